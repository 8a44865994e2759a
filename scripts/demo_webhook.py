"""A tiny webhook for the demo: prints every message and event openwx POSTs to it.

Standard library only, so the demo shows exactly what arrives on the wire. It answers
`{}` (no reply), except to a text message that says "ping", which it answers with the
reply protocol (`{"reply": "pong"}`) so the demo also shows a bot answering.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        client = parse_qs(urlsplit(self.path).query).get("client", ["?"])[0]
        try:
            item = json.loads(body)
        except ValueError:
            item = {"unparsable": body[:200].decode("utf-8", "replace")}
        answer: dict = {}
        if item.get("post_type") == "event":
            line = f"[{client}] event {item.get('event')} {json.dumps(item.get('params'), ensure_ascii=False)[:200]}"
        else:
            who = item.get("sender") or item.get("receiver") or ""
            line = f"[{client}] {item.get('post_type')} {item.get('type')} {who}: {item.get('content')}"
            if item.get("post_type") == "receive_message" and item.get("content") == "ping":
                answer = {"reply": "pong"}
        print(line, flush=True)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet access log
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    print(f"demo webhook listening on http://127.0.0.1:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
