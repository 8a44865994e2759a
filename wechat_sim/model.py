"""The simulated world's records: people, accounts, groups, messages, logins, sessions.

Plain dataclasses with no HTTP and no JSON: `world.World` changes them through its verbs,
`protocol/` renders them for one login session. Stable internal ids (`wxid_...`,
`<digits>@chatroom`, `gh_...`, special names like `filehelper`) key everything here; the
random per-session `@...` UserNames live only in `Session`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import trio

SPECIAL_NAMES = frozenset({"filehelper", "weixin", "fmessage", "newsapp", "medianote"})


class Notifier:
    """Wakes every waiter when something changes (a broadcast, unlike a channel)."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self) -> None:
        await self._event.wait()


@dataclass
class Person:
    """Anyone with an internal id: friends, strangers, officials, specials, accounts."""

    wxid: str
    nickname: str
    sex: int = 0
    province: str = ""
    city: str = ""
    signature: str = ""
    alias: str = ""
    verify_flag: int = 0  # 8 (BIZ_BRAND) for official accounts

    @property
    def is_special(self) -> bool:
        return self.wxid in SPECIAL_NAMES


@dataclass
class Friendship:
    """How an account sees one of its contacts."""

    remark: str = ""
    starred: bool = False
    pinned: bool = False


@dataclass
class Group:
    wxid: str  # "<10 digits>@chatroom"
    topic: str
    owner: str  # wxid
    members: list[str] = field(default_factory=list)
    display_names: dict[str, str] = field(default_factory=dict)  # wxid -> group card


@dataclass
class Recommend:
    """The person behind a friend request (37) or a shared card (42)."""

    wxid: str
    nickname: str
    content: str = ""
    ticket: str = ""
    scene: int = 14
    sex: int = 0
    province: str = ""
    city: str = ""
    alias: str = ""
    signature: str = ""
    verify_flag: int = 0


@dataclass
class Message:
    """One message as the service stores it, before it is rendered for a session.

    `content` is the logical text or XML (not yet HTML-escaped, no group prefix).
    For a group message from someone else `from_wxid` is the group id and `sender` the
    member who wrote it (rendered as the `@sender:<br/>` prefix).
    """

    msg_id: int
    msg_type: int
    from_wxid: str
    to_wxid: str
    content: str
    create_time: int
    sender: str | None = None  # group member who wrote a group message
    app_msg_type: int = 0
    sub_msg_type: int = 0
    status: int = 3
    img_status: int = 1
    file_name: str = ""
    file_size: int = 0
    url: str = ""
    ori_content: str = ""
    voice_length: int = 0
    play_length: int = 0
    img_width: int = 0
    img_height: int = 0
    status_notify_code: int = 0
    status_notify_wxids: list[str] = field(default_factory=list)
    recommend: Recommend | None = None
    media: bytes | None = None
    media_mime: str = ""
    media_id: str = ""  # attachments (app type 6) and uploaded media
    client_msg_id: str = ""
    sent_at: float | None = None  # trio time a web session sent it (revoke window, 8.5)


@dataclass
class SentRecord:
    """What an account sent through a web session (the control API's `sent` list)."""

    to: str  # wxid of the chat
    type: str
    content: str
    msg_id: str
    time: int
    msg_type: int = 1


@dataclass
class Account:
    """A phone: a person with a uin, friends and a history of web sessions."""

    person: Person
    uin: int
    main_host: str = "wx.qq.com"
    friends: dict[str, Friendship] = field(default_factory=dict)
    web_barred: bool = False
    auth_ticket: str = ""  # webwx_auth_ticket of the last login (push login needs one)
    uvid: str = ""
    messages: dict[int, Message] = field(default_factory=dict)
    sent: list[SentRecord] = field(default_factory=list)
    pending_requests: dict[str, Recommend] = field(default_factory=dict)  # by wxid
    auto_replies: dict[str, AutoReply] = field(default_factory=dict)  # by chat wxid

    @property
    def wxid(self) -> str:
        return self.person.wxid


@dataclass
class AutoReply:
    """A contact (or a member of a group) that answers what the account sends it."""

    reply: str | None  # None: echo the text back
    delay: float = 1.0
    member: str | None = None  # for a group: who answers


class LoginState(enum.Enum):
    WAITING = "waiting"  # QR shown, nobody scanned
    SCANNED = "scanned"  # phone scanned, waits for confirm (201)
    CONFIRMED = "confirmed"  # redirect_uri issued (200), ticket not yet exchanged
    DONE = "done"  # ticket exchanged, session created
    EXPIRED = "expired"  # 400


@dataclass
class Login:
    uuid: str
    created_at: float  # trio time
    expires_at: float
    desktop: bool = False
    push: bool = False
    state: LoginState = LoginState.WAITING
    account: str | None = None  # wxid once scanned (or pushed)
    preferred: str | None = None  # auto-confirm: the account this cookie logged in last
    ticket: str = ""
    scan_time: int = 0
    auto_at: float | None = None  # trio time of the next automatic step (auto-confirm)
    scan_reported: bool = False  # a poll already answered 201 for this scan


@dataclass
class SyncItem:
    """One entry of a session's event log."""

    kind: str  # "msg" | "mod" | "del" | "profile" (the account's own profile changed)
    message: Message | None = None
    wxid: str = ""


@dataclass
class Session:
    """One web login of an account: credentials, UserName mapping, event log, sync keys."""

    account: str  # wxid
    uin: int
    sid: str
    skey: str
    pass_ticket: str  # raw base64 (the XML carries it percent-encoded)
    data_ticket: str
    main_host: str
    created_at: float
    desktop: bool = False
    ended: int = 0  # 0 live; else the retcode every later call answers (1100/1101/1102)
    names: dict[str, str] = field(default_factory=dict)  # wxid -> UserName
    wxids: dict[str, str] = field(default_factory=dict)  # UserName -> wxid
    log: list[SyncItem] = field(default_factory=list)
    issued_keys: dict[tuple[tuple[int, int], ...], tuple[str, int]] = field(default_factory=dict)
    key_base: int = 0
    acked: int = 0  # highest log position a client proved it has (by sending its key)
    client_msg_ids: dict[str, int] = field(default_factory=dict)
    changed: Notifier = field(default_factory=Notifier)

    @property
    def alive(self) -> bool:
        return self.ended == 0


@dataclass(frozen=True)
class SeenRequest:
    """One protocol request as the service saw it (`GET /sim/requests`), for tests that check
    what a client sent: which host, path, query, and what status it got."""

    time: float  # trio time
    method: str
    host: str
    path: str
    query: str
    status: int
