"""A tiny webhook for the demo: prints every message and event openwx POSTs to it.

    python scripts/demo_webhook.py [PORT] [--log FILE]

PORT 0 (the default) takes any free port; the first line printed is
``demo webhook listening on http://127.0.0.1:PORT/``. With ``--log FILE`` every
report is also appended to FILE as one JSON line (``{"client", "headers", "body"}``),
which is how ``scripts/demo --check`` sees what arrived.

Standard library only, so the demo shows exactly what arrives on the wire; one
request at a time (``HTTPServer``), which is plenty for a demo. It answers ``{}``
(no reply), except to a received text message that says "ping", which it answers
with the reply protocol (``{"reply": "pong"}``): the worker then sends "pong" back
to the same chat, and that send is itself reported (``from: "code"``).
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

_HEADERS = ("X-Openwx-Event-Id", "X-Openwx-Timestamp", "X-Openwx-Signature")


def summary(client: str, item: dict) -> str:
    """One readable line for a report."""
    event_id = item.get("event_id")
    prefix = f"[{client}] #{event_id}" if event_id is not None else f"[{client}]"
    if item.get("post_type") == "event":
        params = json.dumps(item.get("params"), ensure_ascii=False)
        if len(params) > 160:
            params = params[:157] + "..."
        return f"{prefix} event {item.get('event')} {params}"
    if item.get("post_type") == "send_message":
        who = f"-> {item.get('receiver') or item.get('group') or '?'}"
    else:
        who = f"<- {item.get('sender') or '?'}"
        if item.get("group"):
            who += f" in {item['group']}"
    return f"{prefix} {item.get('post_type')} {item.get('type')} {who}: {item.get('content')}"


def answer_for(item: dict) -> dict:
    """The reply protocol: answer a received "ping" with a "pong" text."""
    if (item.get("post_type") == "receive_message" and item.get("format") == "text"
            and str(item.get("content", "")).strip().lower() == "ping"):
        return {"reply": "pong"}
    return {}


class _Handler(BaseHTTPRequestHandler):
    log_file: str | None = None

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        client = parse_qs(urlsplit(self.path).query).get("client", ["?"])[0]
        try:
            item = json.loads(body)
        except ValueError:
            item = {"unparsable": body[:200].decode("utf-8", "replace")}
        if not isinstance(item, dict):
            item = {"unexpected": item}
        answer = answer_for(item)
        print(summary(client, item) + ("   (answering: pong)" if answer else ""), flush=True)
        if self.log_file:
            headers = {h: self.headers[h] for h in _HEADERS if self.headers.get(h)}
            with open(self.log_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"client": client, "headers": headers, "body": item},
                                   ensure_ascii=False) + "\n")
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet access log
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--log", metavar="FILE", help="append every report as a JSON line")
    args = parser.parse_args()
    _Handler.log_file = args.log
    server = HTTPServer(("127.0.0.1", args.port), _Handler)
    print(f"demo webhook listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
