"""Runs inside the rehearsal interpreter (`python3.12 -I -S`, see test_rehearsal.py), which sees only
the unpacked Lambda package, the unpacked layer and the standard library, as the Lambda runtime
does. Standard library only. Reads one invocation per line on stdin,
`{"handler": "app.app", "event": {...}}`, and writes one answer per line on stdout:
`{"result": ...}` or `{"error": "..."}`."""
import importlib
import json
import sys
import time
import traceback
import uuid


class Context:
    """The attributes of the Lambda context object the functions read."""

    def __init__(self, name):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 1024
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "rehearsal"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self):
        return int((self._deadline - time.monotonic()) * 1000)


def main():
    sys.path[:0] = sys.argv[1:]  # the package folder, then the layer's python/ (as /opt/python)
    out = sys.stdout
    sys.stdout = sys.stderr  # the functions' prints and logs must not mix with the answers
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request.get("where"):
                result = {name: getattr(importlib.import_module(name), "__file__", None) for name in request["where"]}
            else:
                module_name, attribute = request["handler"].rsplit(".", 1)
                handler = getattr(importlib.import_module(module_name), attribute)
                result = handler(request["event"], Context(attribute))
            # As the runtime marshals the answer: plain JSON (bytes cannot be sent: Runtime.MarshalError).
            out.write(json.dumps({"result": result}) + "\n")
        except Exception:  # noqa: BLE001 - reported to the test, which fails on it
            out.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
