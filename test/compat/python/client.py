"""A boto3 client driven by the credd compatibility suite (test/compat).

It uses boto3's default credential chain, so with the environment that
`credd env` prints it gets its credentials from credd's endpoint.

    client.py version
    client.py calls N [ENDPOINT]      N GetCallerIdentity calls in one process
    client.py loop SECONDS [ENDPOINT] one call every 0.5 s until SECONDS pass

ENDPOINT, when given and not empty, is passed as endpoint_url (botocore 1.29
ignores AWS_ENDPOINT_URL_STS). Every call prints one JSON line:
{"n": 1, "ok": true, "arn": "...", "akid": "<access key that signed the call>"}
or {"n": 1, "ok": false, "error": "..."}. `calls` exits 1 if a call failed.
"""

import json
import sys
import time

import boto3
import botocore


def main(argv):
    mode = argv[1]
    if mode == "version":
        python = "%d.%d.%d" % sys.version_info[:3]
        print(json.dumps({"version": "boto3 %s, botocore %s, Python %s" % (boto3.__version__, botocore.__version__, python)}))
        return 0
    arg = float(argv[2])
    endpoint = argv[3] if len(argv) > 3 and argv[3] else None

    signed_by = {}

    def capture(request, **kwargs):
        # The signed request: its Authorization header names the access key.
        auth = request.headers.get("Authorization", b"")
        if isinstance(auth, bytes):
            auth = auth.decode()
        signed_by["akid"] = auth.split("Credential=", 1)[-1].split("/", 1)[0] if "Credential=" in auth else ""

    clients = []

    def sts():
        # Made on first use: boto3 resolves the credentials when it makes a
        # client, and a failure there is a failed call.
        if not clients:
            client = boto3.session.Session().client("sts", endpoint_url=endpoint)
            client.meta.events.register("before-send.sts.GetCallerIdentity", capture)
            clients.append(client)
        return clients[0]

    def call(n):
        signed_by.clear()
        try:
            out = sts().get_caller_identity()
            line = {"n": n, "ok": True, "arn": out["Arn"], "akid": signed_by.get("akid", "")}
        except Exception as e:  # the suite records whatever the user would see
            line = {"n": n, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(line), flush=True)
        return line["ok"]

    if mode == "calls":
        ok = all([call(n) for n in range(1, int(arg) + 1)])
        return 0 if ok else 1
    if mode == "loop":
        deadline, n = time.monotonic() + arg, 0
        while time.monotonic() < deadline:
            n += 1
            call(n)
            time.sleep(0.5)
        return 0
    print("unknown mode %r" % mode, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
