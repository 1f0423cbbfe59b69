"""An AWS Common Runtime (awscrt) client driven by the credd compatibility
suite (test/compat).

The CRT's default credentials chain (AwsCredentialsProvider.new_default_chain,
aws-c-auth's credentials_provider_default_chain.c: environment, profile,
ECS/container, IMDS) finds credd through AWS_CONTAINER_CREDENTIALS_FULL_URI,
and the CRT's SigV4 signer (awscrt.auth.aws_sign_request) signs an STS
GetCallerIdentity request, which the script sends with urllib.

    crt_client.py version
    crt_client.py calls N ENDPOINT   N GetCallerIdentity calls in one process

Every call prints one JSON line:
{"n": 1, "ok": true, "arn": "...", "akid": "<access key that signed the call>"}
or {"n": 1, "ok": false, "error": "..."}. `calls` exits 1 if a call failed.
"""

import io
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import awscrt
from awscrt import auth, http

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def main(argv):
    if argv[1:] == ["version"]:
        # Debian builds report 1.0.0.dev0 here; the suite adds the package's.
        python = "%d.%d.%d" % sys.version_info[:3]
        print(json.dumps({"version": "awscrt %s, Python %s" % (awscrt.__version__, python)}))
        return 0
    if len(argv) != 4 or argv[1] != "calls":
        print("usage: crt_client.py version | calls N ENDPOINT", file=sys.stderr)
        return 2
    n, endpoint = int(argv[2]), argv[3]
    url = urllib.parse.urlsplit(endpoint)
    # The chain caches what it fetched, so one provider makes one fetch.
    provider = auth.AwsCredentialsProvider.new_default_chain()

    def call():
        request = http.HttpRequest(
            "POST", url.path or "/",
            http.HttpHeaders([
                ("Host", url.netloc),
                ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                ("Content-Length", str(len(BODY))),
            ]),
            io.BytesIO(BODY),
        )
        config = auth.AwsSigningConfig(
            auth.AwsSigningAlgorithm.V4, auth.AwsSignatureType.HTTP_REQUEST_HEADERS,
            provider, "us-east-1", "sts")
        auth.aws_sign_request(request, config).result(timeout=60)
        headers = {name: value for name, value in request.headers}
        m = re.search(r"Credential=([^/]+)/", headers.get("Authorization", ""))
        sent = urllib.request.Request(endpoint, data=BODY, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(sent, timeout=30) as resp:
                text = resp.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError("STS answered %d: %s" % (e.code, e.read().decode())) from None
        arn = re.search(r"<Arn>([^<]*)</Arn>", text)
        if not arn:
            raise RuntimeError("no Arn in STS's answer: %s" % text)
        return {"arn": arn.group(1), "akid": m.group(1) if m else ""}

    ok = True
    for i in range(1, n + 1):
        try:
            line = {"n": i, "ok": True, **call()}
        except Exception as e:  # the suite records whatever the user would see
            line = {"n": i, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps(line), flush=True)
        ok = ok and line["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
