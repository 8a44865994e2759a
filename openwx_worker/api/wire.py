"""The HTTP edge of the API: reading a request, writing a response.

Parameters come, as in Mojo::Weixin, from the query string plus a form body
(urlencoded or the text fields of multipart); as additions, a JSON object body is
read too, and multipart file parts are kept (a media upload). A later source wins
over an earlier one for the same key, and a repeated key keeps its last value
(Mojo::Weixin turned repeats into a list that never matched anything).

Every response carries ``Access-Control-Allow-Origin: *``; ``datatype=jsonp``
wraps a JSON body in ``callback(...)`` (openwx-reference.md section 0).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import msgspec

from . import codes
from .codes import ApiError
from .multipart import FilePart, parse_multipart

JSON_TYPE = b"application/json;charset=UTF-8"
MAX_FIELDS = 1000

CORS_HEADERS: list[tuple[bytes, bytes]] = [(b"access-control-allow-origin", b"*")]
PREFLIGHT_HEADERS: list[tuple[bytes, bytes]] = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"OPTIONS, HEAD, GET, POST"),
    (
        b"access-control-allow-headers",
        b"X-Requested-With, X-Auth-Token, Content-Type, Content-Length, Authorization",
    ),
    (b"content-length", b"0"),
]

_CALLBACK_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]{0,99}$")
_json_decoder = msgspec.json.Decoder()


def _encode_hook(obj: Any) -> Any:
    # Anything msgspec cannot encode natively (an enum of another module, a path)
    # is written as its string form rather than failing the request.
    return str(obj)


# Keys sorted, as Mojo::Weixin's JSON encoder wrote them (and models.encode does).
_json_encoder = msgspec.json.Encoder(enc_hook=_encode_hook, order="sorted")


def encode_json(obj: Any) -> bytes:
    return _json_encoder.encode(obj)


@dataclass
class Response:
    """A finished answer. ``after_send`` runs once the body has been handed over."""

    status: int
    body: bytes
    content_type: bytes = JSON_TYPE
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    after_send: Callable[[], Any] | None = None


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, encode_json(obj))


def error_response(err: ApiError) -> Response:
    resp = json_response(err.body(), err.http_status)
    if err.http_status == 401:
        resp.headers.append((b"www-authenticate", b'Bearer realm="openwx"'))
    return resp


def jsonp_wrap(resp: Response, params: dict[str, str]) -> Response:
    """``datatype=jsonp``: the JSON body becomes ``CALLBACK(<json>)``.

    An unusable callback name (anything but a JavaScript dotted identifier) is
    replaced by Mojo::Weixin's default ``jsoncallback<epoch>`` rather than echoed,
    so the endpoint cannot be made to serve arbitrary script.
    """
    if params.get("datatype") != "jsonp" or resp.content_type != JSON_TYPE:
        return resp
    callback = params.get("callback", "")
    if not _CALLBACK_RE.match(callback):
        callback = f"jsoncallback{int(time.time())}"
    resp.body = callback.encode() + b"(" + resp.body + b")"
    resp.content_type = b"application/javascript;charset=UTF-8"
    return resp


async def send_response(send: Callable[[dict], Awaitable[None]], resp: Response, head: bool) -> None:
    headers = [
        (b"content-type", resp.content_type),
        (b"content-length", str(len(resp.body)).encode()),
        *CORS_HEADERS,
        *resp.headers,
    ]
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else resp.body})


async def read_body(receive: Callable[[], Awaitable[dict]], limit: int) -> bytes:
    """The whole request body; over ``limit`` bytes is answered with 413."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(
                codes.BODY_TOO_LARGE,
                f"request body too large (limit {limit} bytes)",
                http_status=413,
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ClientGone(Exception):
    """The HTTP client disconnected before we could answer."""


def header(scope: dict, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _scalar(value: Any) -> str | None:
    """A JSON body value as the string a query parameter would have carried."""
    if value is None:
        return None
    if value is True or value is False:
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ",".join(str(v) for v in value)  # friends / members as an array
    return encode_json(value).decode()


def parse_params(scope: dict, body: bytes) -> tuple[dict[str, str], list[FilePart]]:
    """Query string, then form or JSON body, merged into one dict of strings."""
    params: dict[str, str] = {}
    files: list[FilePart] = []
    try:
        qs = scope.get("query_string", b"")
        if qs:
            params.update(_form_fields(qs))
        if not body:
            return params, files
        ctype = header(scope, b"content-type")
        mime = ctype.split(";", 1)[0].strip().lower()
        if mime == "multipart/form-data":
            fields, files = parse_multipart(body, ctype)
            params.update(fields)
        elif mime == "application/json" or mime.endswith("+json"):
            params.update(_json_params(body))
        elif mime in ("application/x-www-form-urlencoded", ""):
            params.update(_form_fields(body))
        # Any other body type (text/plain, an image...) carries no parameters.
    except ValueError as exc:
        raise codes.bad_parameter(f"unreadable request: {exc}") from exc
    return params, files


def _form_fields(data: bytes) -> list[tuple[str, str]]:
    """``a=1&b=2`` (a query string or an urlencoded body): blanks kept, bad UTF-8 and
    bad escapes replaced, more than MAX_FIELDS fields refused (ValueError)."""
    return parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True,
                     errors="replace", max_num_fields=MAX_FIELDS)  # fmt: skip


def _json_params(body: bytes) -> dict[str, str]:
    try:
        data = _json_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"invalid JSON body ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("a JSON body must be an object")
    out: dict[str, str] = {}
    for key, value in data.items():
        text = _scalar(value)
        if text is not None:
            out[key] = text
    return out
