"""A stand-in worker process, for tests of the restart machinery only.

Usage (as the supervisor's hidden ``worker_command``):
``python standin_worker.py [--mode serve|crash|crash-while:FILE] run --account A --port P --tmpdir=D ...``

``serve`` answers get_client_info, writes the state and QR files, and offers two
test endpoints: ``/openwx/echo`` (method, query, body size) and
``/openwx/stream`` (chunks sent over time). It exits 0 on SIGTERM and as soon as
its parent pipe (OPENWX_PARENT_FD) reaches end-of-file, like the real worker.
End-to-end tests use the real worker instead.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse(argv):
    mode, opts = "serve", {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--mode":
            mode = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--") and "=" in arg:
            k, v = arg[2:].split("=", 1)
            opts[k] = v
        elif arg.startswith("--") and i + 1 < len(argv):
            opts[arg[2:]] = argv[i + 1]
            i += 1
        i += 1
    return mode, opts


def main():
    mode, opts = parse(sys.argv[1:])
    if mode == "crash":
        sys.exit(1)
    if mode.startswith("crash-while:") and os.path.exists(mode.split(":", 1)[1]):
        sys.exit(1)  # crashes for as long as that file exists
    account, port, tmpdir = opts["account"], int(opts["port"]), opts["tmpdir"]
    os.makedirs(tmpdir, exist_ok=True)
    state = {"account": account, "state": "running", "pid": os.getpid(), "port": port,
             "argv": sys.argv[1:], "parent_fd": os.environ.get("OPENWX_PARENT_FD"),
             "scrubbed": sorted(k for k in os.environ if k.startswith("OPENWX_"))}
    with open(os.path.join(tmpdir, f"mojo_weixin_state_{account}.json"), "w") as f:
        json.dump(state, f)
    with open(os.path.join(tmpdir, f"mojo_weixin_qrcode_{account}.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0fake-jpeg")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _json(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Standin", account)
            self.end_headers()
            self.wfile.write(body)

        def _body_size(self):
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                size = 0
                while True:
                    n = int(self.rfile.readline().strip(), 16)
                    if n == 0:
                        self.rfile.readline()
                        return size
                    size += len(self.rfile.read(n))
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return len(self.rfile.read(n)) if n else 0

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            size = self._body_size()
            if url.path == "/openwx/get_client_info":
                self._json({"code": 0, "status": "success", "pid": os.getpid(), "account": account})
            elif url.path == "/openwx/echo":
                self._json({"code": 0, "method": self.command, "query": url.query,
                            "size": size, "account": account})
            elif url.path == "/openwx/stream":
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(3):
                    chunk = f"part{i}\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    time.sleep(0.2)
                self.wfile.write(b"0\r\n\r\n")
            elif url.path == "/openwx/die":  # crash in the middle of a request
                os._exit(3)
            elif url.path == "/openwx/exit0":
                self._json({"code": 0, "status": "bye"})
                threading.Timer(0.1, lambda: os._exit(0)).start()
            else:
                self.send_response(403)
                self.send_header("Content-Length", "13")
                self.end_headers()
                self.wfile.write(b"api not found")

        do_POST = do_GET

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

    fd = os.environ.get("OPENWX_PARENT_FD")
    if fd:
        def watch():
            while os.read(int(fd), 512):
                pass
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
