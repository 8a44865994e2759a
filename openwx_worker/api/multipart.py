"""A small ``multipart/form-data`` parser (RFC 7578) for request bodies.

Mojo::Weixin reads the text fields of a multipart body as parameters; we do the
same and, as an addition, keep file parts so that a media file can be uploaded
with the request itself. The whole body is already in memory (its size is capped
by the app), so this parser works on bytes and stays simple: split on the
boundary, read each part's headers, keep its content. Anything malformed raises
``ValueError``; the caller answers it as a bad parameter, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


@dataclass(frozen=True)
class FilePart:
    """An uploaded file part: its field name, file name, declared type and bytes."""

    field: str
    filename: str
    content_type: str
    data: bytes


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a ``multipart/form-data`` Content-Type header."""
    msg = Message()
    msg["content-type"] = content_type
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise ValueError("multipart body without a valid boundary")
    return boundary.encode("latin-1", "replace")


def _part_headers(raw: bytes) -> Message:
    msg = Message()
    for line in raw.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError("malformed multipart part header")
        msg[name.decode("latin-1").strip()] = value.decode("utf-8", "replace").strip()
    return msg


def parse_multipart(body: bytes, content_type: str) -> tuple[list[tuple[str, str]], list[FilePart]]:
    """Split a multipart body into text fields and file parts."""
    delimiter = b"--" + boundary_of(content_type)
    chunks = body.split(delimiter)
    if len(chunks) < 2:
        raise ValueError("multipart body without its boundary")
    fields: list[tuple[str, str]] = []
    files: list[FilePart] = []
    # chunks[0] is the preamble; a chunk starting with "--" is the close delimiter.
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            if head.strip():
                raise ValueError("malformed multipart part")
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers = _part_headers(head)
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue  # a part without a name carries no parameter
        filename = headers.get_filename()
        if filename is None and name == "media_data":
            # Mojo::Weixin's media_data is the media's raw bytes in a plain field: keep
            # them as bytes (a text decode would corrupt them).
            filename = ""
        if filename is None:
            fields.append((name, content.decode("utf-8", "replace")))
        else:
            ctype = headers.get_content_type() if "content-type" in headers else ""
            files.append(FilePart(name, filename, ctype, content))
    return fields, files
