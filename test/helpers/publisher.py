"""A publishing program in Python, standard library only: what the README's producer does, for the tests.

python3 publisher.py BASE SESSION TOKEN MODE
  stream  open a run and stream it as NDJSON in one chunked request: a user message, partials, a final
  cancel  open a run and append a partial every 50 ms until the server says the run was cancelled
  retry   append the same request twice under one Producer-Seq, then one that skips a number
  agui    open a run and stream AG-UI events (?format=ag-ui) as NDJSON: steps, text, a tool call whose arguments
          come in two pieces, its result, a state snapshot and a delta, RUN_FINISHED
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
elif mode == "agui":
    events = [
        {"type": "RUN_STARTED", "threadId": session, "runId": run},
        {"type": "STEP_STARTED", "stepName": "search"},
        {"type": "STATE_SNAPSHOT", "snapshot": {"query": "robots", "hits": []}},
        {"type": "TOOL_CALL_START", "toolCallId": "t1", "toolCallName": "search"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "t1", "delta": '{"q": "rob'},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "t1", "delta": 'ots"}'},
        {"type": "TOOL_CALL_END", "toolCallId": "t1"},
        {"type": "TOOL_CALL_RESULT", "messageId": "r1", "toolCallId": "t1", "content": '["R2-D2"]'},
        {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "/hits/-", "value": "R2-D2"}]},
        {"type": "STEP_FINISHED", "stepName": "search"},
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Found "},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "R2-D2."},
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        {"type": "RUN_FINISHED", "threadId": session, "runId": run},
    ]

    def agui_lines():
        for event in events:
            time.sleep(0.02)
            yield (json.dumps(event) + "\n").encode()

    call("POST", f"/api/sessions/{session}/runs/{run}/events?format=ag-ui", agui_lines(), {"Content-Type": "application/x-ndjson"})
