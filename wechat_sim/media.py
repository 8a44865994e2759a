"""Media verbs of the world: chunked uploads, sending uploaded media, downloads, avatars.

No HTTP here (the protocol layer is `wechat_sim.protocol.media`): an upload is a sequence
of chunks keyed by (session, ClientMediaId); the last chunk turns it into a stored blob
with a `MediaId` that only the uploading session may send (web-protocol.md 8.3, strict 10).
Sending one goes through `World.send`, so it is recorded in the account's `sent` list,
echoed to the account's own sessions and forwarded to other simulated accounts like text.
Downloads look messages up in the account's history, so media injected through the
control API (`ChangeVerbs.incoming`) and media sent by the account are both served.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from PIL import Image, ImageDraw

from wechat_sim import blobs, ids
from wechat_sim import content as C
from wechat_sim.errors import RET_PARAM, SimError
from wechat_sim.model import Message, Session

if TYPE_CHECKING:
    from wechat_sim.world import World

CHUNK_SIZE = 524288  # 512 KiB, what every client uses (8.3)
THUMB_SIZE = (120, 120)
AVATAR_SIZE, AVATAR_BIG = 132, 480
IMAGE_TYPES = (3, 47)
VIDEO_TYPES = (43, 62)


@dataclass
class Upload:
    """An upload in progress: the chunks received so far, in order."""

    client_media_id: str
    total: int
    chunks: int
    name: str
    mime: str
    mediatype: str
    md5: str
    parts: list[bytes] = field(default_factory=list)

    @property
    def received(self) -> int:
        return sum(len(p) for p in self.parts)


@dataclass
class MediaBlob:
    """A completed upload; `sid` is the session that may send it."""

    media_id: str
    data: bytes
    name: str
    mime: str
    mediatype: str
    md5: str
    account: str
    sid: str


@dataclass
class UploadProgress:
    received: int
    blob: MediaBlob | None  # set once the last chunk arrived


@dataclass
class MediaStore:
    """World state for media: uploads in progress, completed blobs, rendered avatars."""

    uploads: dict[tuple[str, str], Upload] = field(default_factory=dict)
    blobs: dict[str, MediaBlob] = field(default_factory=dict)
    avatars: dict[tuple[str, int], bytes] = field(default_factory=dict)


def sniff_mime(data: bytes, fallback: str = "application/octet-stream") -> str:
    """The type a client would infer from the first bytes (M and I both sniff, 7.7)."""
    if data.startswith(b"GIF8"):
        return "image/gif"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    if data.startswith(b"ID3") or data[:2] == b"\xff\xfb":
        return "audio/mpeg"
    return fallback


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image, (0, 0) when the bytes are not one Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - anything a client uploads may be garbage
        return (0, 0)


def thumbnail(data: bytes, seed: str) -> bytes:
    """A JPEG thumbnail (type=slave) of an image, or a seeded stand-in for non-images."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = img.convert("RGB")
            img.thumbnail(THUMB_SIZE)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=75)
            return buf.getvalue()
    except Exception:  # noqa: BLE001
        return blobs.jpeg(seed, THUMB_SIZE)


def avatar_jpeg(wxid: str, size: int) -> bytes:
    """A deterministic avatar: a colour per contact with a lighter disc, as a real JPEG."""
    h = zlib.crc32(wxid.encode())
    bg = (h & 0xFF, (h >> 8) & 0xFF, (h >> 16) & 0xFF)
    fg = tuple(min(255, c + 90) for c in bg)
    img = Image.new("RGB", (size, size), bg)
    m = size // 5
    ImageDraw.Draw(img).ellipse((m, m, size - m, size - m), fill=fg)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def encry_file_name(name: str) -> str:
    """`EncryFileName`: the URL-quoted name with `.` as `%2E` (8.3, 7.1)."""
    return quote(name, safe="").replace(".", "%2E").replace("_", "%5F")


_TAG = {t: re.compile(rf"<{t}>(.*?)</{t}>", re.S) for t in ("title", "totallen", "attachid", "fileext", "type", "des", "url")}  # fmt: skip


def appmsg_field(xml: str, tag: str) -> str:
    m = _TAG[tag].search(xml)
    return m.group(1).strip() if m else ""


class MediaVerbs:
    """Mixed into `World`."""

    media: MediaStore

    # -- uploads ---------------------------------------------------------------------
    def upload_chunk(
        self: World,
        session: Session,
        *,
        client_media_id: str,
        data: bytes,
        size: int,
        chunks: int = 1,
        chunk: int = 0,
        name: str = "",
        mime: str = "",
        mediatype: str = "doc",
        md5: str = "",
    ) -> UploadProgress:
        """One chunk of webwxuploadmedia; chunks must come in order with one ClientMediaId."""
        if not client_media_id:
            raise SimError(RET_PARAM, "ClientMediaId missing")
        if chunks < 1 or not 0 <= chunk < chunks:
            raise SimError(RET_PARAM, f"chunk {chunk} of {chunks} is out of range")
        key = (session.sid, client_media_id)
        upload = self.media.uploads.get(key)
        if chunk == 0:
            upload = Upload(client_media_id, size, chunks, name, mime, mediatype, md5.lower())
            self.media.uploads[key] = upload
        elif upload is None or upload.chunks != chunks or len(upload.parts) != chunk:
            self.media.uploads.pop(key, None)
            raise SimError(
                RET_PARAM, f"chunk {chunk} out of order for ClientMediaId {client_media_id}"
            )
        elif size != upload.total:
            raise SimError(RET_PARAM, "size changed between chunks")
        upload.parts.append(data)
        if upload.received > upload.total:
            self.media.uploads.pop(key, None)
            raise SimError(RET_PARAM, f"more bytes than TotalLen {upload.total}")
        if len(upload.parts) < upload.chunks:
            return UploadProgress(upload.received, None)
        del self.media.uploads[key]
        whole = b"".join(upload.parts)
        if len(whole) != upload.total:
            raise SimError(RET_PARAM, f"received {len(whole)} bytes, TotalLen says {upload.total}")
        digest = hashlib.md5(whole).hexdigest()
        if upload.md5 and upload.md5 != digest:
            raise SimError(RET_PARAM, "FileMd5 does not match the uploaded bytes")
        media_id = ids.media_id(self.rng)
        blob = MediaBlob(
            media_id, whole, upload.name, upload.mime or sniff_mime(whole), upload.mediatype,
            digest, session.account, session.sid,
        )  # fmt: skip
        self.media.blobs[media_id] = blob
        return UploadProgress(len(whole), blob)

    def uploaded(self: World, session: Session, media_id: str) -> MediaBlob:
        """A MediaId this session may send: a completed upload of this very session."""
        blob = self.media.blobs.get(media_id)
        if blob is None or blob.sid != session.sid:
            raise SimError(RET_PARAM, "MediaId is not a completed upload of this session")
        return blob

    # -- sending -----------------------------------------------------------------------
    def send_image(
        self: World, session: Session, to: str, media_id: str, client_msg_id: str
    ) -> Message:
        blob = self.uploaded(session, media_id)
        width, height = image_size(blob.data)
        return self.send(
            session, to, 3, C.image_xml(blob.data), client_msg_id, kind="image",
            media=blob.data, media_mime=sniff_mime(blob.data, blob.mime), media_id=media_id,
            img_status=2, img_width=width, img_height=height,
        )  # fmt: skip

    def send_video(
        self: World, session: Session, to: str, media_id: str, client_msg_id: str
    ) -> Message:
        blob = self.uploaded(session, media_id)
        seconds = 1 + len(blob.data) // (1 << 20)
        return self.send(
            session, to, 43, C.video_xml(blob.data, seconds), client_msg_id, kind="video",
            media=blob.data, media_mime="video/mp4", media_id=media_id, play_length=seconds,
            img_width=320, img_height=240,
        )  # fmt: skip

    def send_emoticon(
        self: World,
        session: Session,
        to: str,
        client_msg_id: str,
        *,
        media_id: str = "",
        md5: str = "",
    ) -> Message:
        """A sticker by uploaded MediaId, or by the md5 of a sticker the service knows."""
        if media_id:
            data = self.uploaded(session, media_id).data
        elif md5:
            data = self._known_sticker(session.account, md5.lower())
        else:
            raise SimError(RET_PARAM, "webwxsendemoticon needs MediaId or EMoticonMd5")
        account = self.account(session.account)
        try:
            to_wxid = self.resolve(session, to)
        except SimError:
            to_wxid = to  # `send` refuses it with the right code (1 or 1201)
        return self.send(
            session, to, 47, C.emoji_xml(account.wxid, to_wxid, data), client_msg_id,
            kind="emoji", media=data, media_mime=sniff_mime(data, "image/gif"),
            media_id=media_id, img_status=2,
        )  # fmt: skip

    def _known_sticker(self: World, account_wxid: str, md5: str) -> bytes:
        for m in self.account(account_wxid).messages.values():
            if m.msg_type == 47 and m.media is not None and hashlib.md5(m.media).hexdigest() == md5:
                return m.media
        for blob in self.media.blobs.values():
            if blob.md5 == md5:
                return blob.data
        raise SimError(RET_PARAM, "unknown EMoticonMd5")

    def send_appmsg(
        self: World, session: Session, to: str, app_type: int, xml: str, client_msg_id: str
    ) -> Message:
        """webwxsendappmsg: a file (Type 6, `<attachid>` = an uploaded MediaId) or a link/app
        message forwarded as its AppMsgType."""
        account = self.account(session.account)
        title = html.unescape(appmsg_field(xml, "title"))
        if app_type == 6:
            media_id = appmsg_field(xml, "attachid")
            blob = self.uploaded(session, media_id)
            declared = appmsg_field(xml, "totallen")
            if declared and declared.isdigit() and int(declared) != len(blob.data):
                raise SimError(RET_PARAM, "totallen does not match the uploaded file")
            name = title or blob.name
            ext = appmsg_field(xml, "fileext") or (name.rsplit(".", 1)[-1] if "." in name else "")
            content = C.app_xml(app_type=6, title=name, file_size=len(blob.data),
                                attach_id=media_id, file_ext=ext, from_wxid=account.wxid)  # fmt: skip
            return self.send(
                session, to, 49, content, client_msg_id, kind="file", app_msg_type=6,
                media=blob.data, media_mime=blob.mime, media_id=media_id, file_name=name,
                file_size=len(blob.data),
            )  # fmt: skip
        url = html.unescape(appmsg_field(xml, "url"))
        content = C.app_xml(app_type=app_type, title=title, des=html.unescape(appmsg_field(xml, "des")),
                            url=url, from_wxid=account.wxid)  # fmt: skip
        return self.send(
            session, to, 49, content, client_msg_id, kind="app", app_msg_type=app_type,
            file_name=title, url=url,
        )  # fmt: skip

    # -- downloads -------------------------------------------------------------------------
    def message_media(
        self: World, session: Session, msg_id: str, types: tuple[int, ...]
    ) -> Message:
        """A message of the account's history with media, of one of `types` (strict 10)."""
        message = (
            self.account(session.account).messages.get(int(msg_id)) if msg_id.isdigit() else None
        )
        if message is None or message.msg_type not in types:
            raise SimError(RET_PARAM, f"no message {msg_id} of type {types}")
        return message

    def message_image(
        self: World, session: Session, msg_id: str, variant: str
    ) -> tuple[bytes, str]:
        """webwxgetmsgimg: the image (or sticker), its thumbnail (`slave`), or a video's cover."""
        m = self.message_media(session, msg_id, IMAGE_TYPES + VIDEO_TYPES)
        if m.msg_type in VIDEO_TYPES:
            return blobs.jpeg(
                f"cover-{m.msg_id}", (m.img_width or 320, m.img_height or 240)
            ), "image/jpeg"
        data = m.media or b""
        if variant == "slave" and m.msg_type == 3:
            return thumbnail(data, str(m.msg_id)), "image/jpeg"
        return data, sniff_mime(data, m.media_mime or "image/jpeg")

    def attachment(self: World, session: Session, media_id: str) -> Message:
        """webwxgetmedia: a file message of the account's history by its MediaId."""
        for m in reversed(self.account(session.account).messages.values()):
            if m.media_id == media_id and m.msg_type == 49 and m.media is not None:
                return m
        raise SimError(RET_PARAM, "no attachment with this MediaId")

    def avatar(self: World, session: Session, username: str, big: bool = False) -> bytes:
        """webwxgeticon / webwxgetheadimg: a deterministic JPEG for a contact or group."""
        wxid = self.resolve(session, username)
        size = AVATAR_BIG if big else AVATAR_SIZE
        key = (wxid, size)
        data = self.media.avatars.get(key)
        if data is None:
            data = self.media.avatars[key] = avatar_jpeg(wxid, size)
        return data


def media_info(message: Message | None, store: MediaStore) -> dict:
    """What the control API's `sent` list shows about a message's media (empty for text)."""
    if message is None or message.media is None:
        return {}
    blob = store.blobs.get(message.media_id)
    return {
        "media": {
            "media_id": message.media_id,
            "file_name": message.file_name or (blob.name if blob else ""),
            "size": len(message.media),
            "md5": hashlib.md5(message.media).hexdigest(),
            "mime": message.media_mime,
        }
    }
