"""The JSON answers of the API, one Struct per shape.

Shapes follow the API document (``openwx-api.zh.md``) where it shows one, plus the
fields Mojo::Weixin's code really sent where clients may rely on them (reference
A.5: a send answers ``id`` = ``"<MsgID>:<receiver>"``, the form revoke_message
takes). Every field is always present (no ``omit_defaults``), so a client sees the
same keys on every answer of an endpoint. These Structs also generate the reply
schemas of ``/openapi.json``.
"""

from __future__ import annotations

import msgspec

SENT = "发送成功"
SEND_FAILED = "发送失败"


class Reply(msgspec.Struct, kw_only=True):
    """Base of every reply Struct."""


class ErrorReply(Reply, kw_only=True):
    """Any failure: a non-zero ``code`` (see the catalogue) and a readable ``status``.

    Some failures add fields (``id: null`` on a failed send look-up, ``state`` when
    the client is not running) as Mojo::Weixin did.
    """

    code: int
    status: str


class StatusReply(Reply, kw_only=True):
    """``{"status":"success","code":0}`` of the group and contact operations."""

    code: int = 0
    status: str = "success"


class SendReply(Reply, kw_only=True):
    """A text sent: ``msg_id`` is WeChat's MsgID, ``id`` is ``MsgID:receiver`` (Mojo)."""

    status: str = SENT
    msg_id: str
    id: str
    code: int = 0


class MediaSendReply(Reply, kw_only=True):
    """A media message sent. ``media_id`` can be given to later sends (no re-upload).

    When the request carried text too, the text went first; its ids are in
    ``text_msg_id`` / ``text_id`` (null otherwise).
    """

    status: str = SENT
    msg_id: str
    id: str
    media_id: str
    text_msg_id: str | None = None
    text_id: str | None = None
    code: int = 0


class QueuedReply(Reply, kw_only=True):
    """``async=1``: the send is queued, the answer does not wait for it."""

    code: int = 0
    status: str = "request already in execution"


class BroadcastReply(Reply, kw_only=True):
    """``id=@all``: one send per friend is queued through the paced queue."""

    code: int = 0
    id: int = 0
    status: str = "request already executed"
    count: int = 0  # addition: how many friends the broadcast goes to


class RevokeReply(Reply, kw_only=True):
    """``status`` is ``revoke success``. A failure is an error answer: code 201 with
    Mojo::Weixin's ``revoke failure`` status and a ``reason`` (Mojo answered it with
    code 0, a bug the package docstring's catalogue explains)."""

    code: int = 0
    id: str
    status: str


class ConsultReply(Reply, kw_only=True):
    """consult: the friend's first reply after our message.

    ``id`` is the reply message's id (Mojo::Weixin); ``msg_id`` is the id of the
    message we sent.
    """

    reply: str
    status: str = SENT
    msg_id: str
    id: str
    code: int = 0


class ConsultTimeoutReply(Reply, kw_only=True):
    """consult: no reply within ``timeout`` (``code`` is the send's, 0)."""

    reply: None = None
    reply_status: str = "reply timeout"
    status: str = SENT
    msg_id: str
    id: str
    code: int = 0


class UploadReply(Reply, kw_only=True):
    """upload_media: the uploaded media, reusable as ``media_id`` in later sends.

    Mojo::Weixin answered the bare object; ``code`` and ``status`` are additions.
    """

    media_id: str
    media_code: int
    media_type: str
    media_path: str
    media_name: str
    media_size: int
    media_mime: str
    media_mtime: int
    media_ext: str
    code: int = 0
    status: str = "success"


class CreateGroupReply(Reply, kw_only=True):
    group_id: str
    status: str = "success"
    code: int = 0


class AcceptFriendReply(Reply, kw_only=True):
    """accept_friend_request echoes the request's values (Mojo)."""

    code: int = 0
    status: str = "success"
    id: str | None
    displayname: str | None
    ticket: str | None


class ClientInfoReply(Reply, kw_only=True):
    """get_client_info: the process, plus (additions) its ``state`` and ``port``."""

    code: int = 0
    status: str = "success"
    account: str
    pid: int
    os: str
    version: str
    starttime: int
    runtime: int
    http_debug: str = "0"
    log_encoding: str | None = None
    log_level: str
    log_path: str  # "" when logging goes to stderr only
    state: str
    port: int | None = None


class StopReply(Reply, kw_only=True):
    code: int = 0
    account: str
    pid: int
    starttime: int
    runtime: int
    status: str
