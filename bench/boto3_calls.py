"""Make N sts get_caller_identity calls with one boto3 client (bench/run.sh).

The credentials come from whatever the environment points at (credd's
container endpoint, a web-identity token file, or static keys). Prints one
JSON line: the time to import boto3 and build the client, and the time of
the N calls, which includes the first credential fetch.
"""
import json
import sys
import time

t0 = time.perf_counter()
import boto3  # noqa: E402

client = boto3.session.Session().client("sts")
t1 = time.perf_counter()
n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
for _ in range(n):
    client.get_caller_identity()
t2 = time.perf_counter()
print(json.dumps({"calls": n, "setup_ms": round((t1 - t0) * 1000, 3), "calls_ms": round((t2 - t1) * 1000, 3)}))
