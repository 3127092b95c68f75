"""Evaluation server for hpo's side of the `bbob` and `ml` sections: holds the problems (COCO
functions, loaded data sets) in one process and answers requests on a Unix socket, so an
evaluation through `hpo run`'s command objective costs a socket round trip instead of a Python
start and a `cocoex`/scikit-learn import.

  evalserver.py SOCKET_PATH

One request per connection, one line each way (UTF-8):

  request:  SPEC <TAB> name=value <TAB> name=value ...     (e.g. "bbob/f15/d2/i1\tx0=1.5\tx1=-2")
  answer:   the value (Python repr of a float), or "error: TEXT"

A request of the spec alone answers the problem's facts as one JSON object (`problems.info`:
f_opt and f at the centre for BBOB), which the driver stores with each run.

The client is `examples/suite_eval_client.rs` (see benches/README.md). The server prints
"ready" on stdout once it listens, and exits on SIGTERM or when stdin closes.
"""

import json
import os
import signal
import socket
import sys
import threading
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems  # noqa: E402


def answer(cache, line):
    spec, *pairs = line.rstrip("\n").split("\t")
    if spec not in cache:
        cache[spec] = problems.load(spec)
    if not pairs:
        return json.dumps(problems.info(cache[spec]))
    params = dict(p.split("=", 1) for p in pairs)
    return repr(problems.evaluate(cache[spec], spec, params))


def serve(path):
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(16)
    print("ready", flush=True)
    cache = {}
    while True:
        conn, _ = srv.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            try:
                out = answer(cache, data.decode())
            except Exception as e:  # a bad request is answered, the server goes on
                out = "error: " + (str(e) or type(e).__name__).replace("\n", " ")
                traceback.print_exc(file=sys.stderr)
            try:
                conn.sendall(out.encode() + b"\n")
            except OSError:
                pass


def main():
    path = sys.argv[1]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    # The driver holds our stdin: when it dies, so do we.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    serve(path)


if __name__ == "__main__":
    main()
