"""A publishing program in Python, standard library only: what the README's producer does, for the tests.

python3 publisher.py BASE SESSION TOKEN MODE
  stream  open a run and stream it as NDJSON in one chunked request: a user message, partials, a final
  cancel  open a run and append a partial every 50 ms until the server says the run was cancelled
  retry   append the same request twice under one Producer-Seq, then one that skips a number
Prints one JSON line per answer it got.
"""
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

base, session, token, mode = sys.argv[1:5]
url = urlsplit(base)
auth = {"Authorization": f"Bearer {token}"}


def call(method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request(method, path, body=body, headers={**auth, **(headers or {})}, encode_chunked=not isinstance(body, (bytes, str, type(None))))
    res = conn.getresponse()
    answer = {"status": res.status, "body": json.loads(res.read() or b"null")}
    conn.close()
    print(json.dumps(answer), flush=True)
    return answer


def post_events(run, events, headers=None):
    return call("POST", f"/api/sessions/{session}/runs/{run}/events", json.dumps(events), {"Content-Type": "application/json", **(headers or {})})


run = call("POST", f"/api/sessions/{session}/runs")["body"]["run_id"]

if mode == "stream":
    words = ["Once ", "upon ", "a ", "time."]

    def lines():
        yield (json.dumps({"type": "user", "text": "Tell me a story."}) + "\n").encode()
        for word in words:
            time.sleep(0.05)
            yield (json.dumps({"type": "partial", "delta": word}) + "\n").encode()
        yield (json.dumps({"type": "final", "text": "".join(words)}) + "\n").encode()

    call("POST", f"/api/sessions/{session}/runs/{run}/events", lines(), {"Content-Type": "application/x-ndjson"})
elif mode == "cancel":
    for i in range(400):
        answer = post_events(run, [{"type": "partial", "delta": f"{i} "}])
        if answer["status"] == 409 and answer["body"].get("cancelled"):
            print(json.dumps({"cancelled": True}), flush=True)
            break
        time.sleep(0.05)
elif mode == "retry":
    headers = {"Producer-Id": "py-1", "Producer-Seq": "0"}
    post_events(run, [{"type": "partial", "delta": "once"}], headers)
    post_events(run, [{"type": "partial", "delta": "once"}], headers)
    post_events(run, [{"type": "partial", "delta": "skipped"}], {"Producer-Id": "py-1", "Producer-Seq": "2"})
