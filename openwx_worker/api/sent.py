"""Which chat each message sent through the API went to, for revoke_message.

A send answers ``msg_id`` (WeChat's MsgID) and, as Mojo::Weixin did, ``id`` =
``"<MsgID>:<chat id>"``. Revoking needs both parts, so when a client passes the
bare ``msg_id`` we look the chat up here. The map is bounded (WeChat refuses a
revoke after two minutes anyway, web-protocol.md 8.5), owned by the app.
"""

from __future__ import annotations

from collections import OrderedDict


class SentMessages:
    """A bounded msg_id -> chat id map, oldest entries forgotten first."""

    def __init__(self, max_size: int = 10_000) -> None:
        self.max_size = max_size
        self._chats: OrderedDict[str, str] = OrderedDict()

    def remember(self, msg_id: str, chat_id: str) -> None:
        self._chats[msg_id] = chat_id
        self._chats.move_to_end(msg_id)
        while len(self._chats) > self.max_size:
            self._chats.popitem(last=False)

    def chat_of(self, msg_id: str) -> str | None:
        return self._chats.get(msg_id)

    def resolve(self, given: str) -> tuple[str, str] | None:
        """``(msg_id, chat_id)`` for a bare msg_id we sent or a ``msgid:chat`` id."""
        chat = self._chats.get(given)
        if chat is not None:
            return given, chat
        msg_id, sep, chat = given.partition(":")
        if sep and msg_id and chat:
            return msg_id, chat
        return None


class KnownMedia:
    """Media uploaded through this worker, by API ``media_id``, for reuse without re-upload.

    Reusing a *file* media_id needs its name, size and extension (they go into the
    file card), which a client rarely passes back (reference A.6); remembering the
    upload fills them in. Bounded, oldest forgotten first.
    """

    def __init__(self, max_size: int = 1000) -> None:
        self.max_size = max_size
        self._items: OrderedDict[str, object] = OrderedDict()

    def remember(self, api_id: str, media: object) -> None:
        self._items[api_id] = media
        self._items.move_to_end(api_id)
        while len(self._items) > self.max_size:
            self._items.popitem(last=False)

    def get(self, api_id: str) -> object | None:
        return self._items.get(api_id)
