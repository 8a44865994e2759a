"""msgspec Structs for the JSON web WeChat sends and receives (web-protocol.md §4-§9).

Field names follow WeChat's PascalCase (``rename="pascal"``), with explicit names
where WeChat's spelling is not plain PascalCase (``PYInitial``, ``DeviceID``,
``SKey``, ``MsgID``).  Replies are decoded leniently (``strict=False``: numbers may
come as strings) and every field has a default, because the server is not ours to
be strict with; unknown fields are ignored.
"""

from __future__ import annotations

import msgspec


class Pascal(msgspec.Struct, rename="pascal", kw_only=True):
    """Base for WeChat payloads."""


# ---------------------------------------------------------------- requests


class BaseRequest(Pascal, omit_defaults=True):
    uin: int
    sid: str
    skey: str = ""
    device_id: str = msgspec.field(default="", name="DeviceID")


class SyncKeyItem(Pascal):
    key: int = 0
    val: int = 0


class SyncKey(Pascal):
    count: int = 0
    items: list[SyncKeyItem] = msgspec.field(default_factory=list, name="List")

    def as_query(self) -> str:
        """The ``synckey`` query form: ``Key_Val`` pairs joined by ``|``."""
        return "|".join(f"{i.key}_{i.val}" for i in self.items)


# ---------------------------------------------------------------- replies


class BaseResponse(Pascal):
    ret: int = 0
    err_msg: str = ""


class Reply(Pascal):
    """Any JSON reply: every one carries BaseResponse."""

    base_response: BaseResponse = msgspec.field(default_factory=BaseResponse)


class Member(Pascal):
    """A group member record inside a group's MemberList."""

    uin: int = 0
    user_name: str = ""
    nick_name: str = ""
    attr_status: int = 0
    display_name: str = ""
    member_status: int = 0
    key_word: str = ""


class Contact(Pascal):
    """A contact record: friend, group, official or special account, or self."""

    uin: int = 0
    user_name: str = ""
    nick_name: str = ""
    head_img_url: str = ""
    contact_flag: int = 0
    member_count: int = 0
    member_list: list[Member] = msgspec.field(default_factory=list)
    remark_name: str = ""
    sex: int = 0
    signature: str = ""
    verify_flag: int = 0
    owner_uin: int = 0
    star_friend: int = 0
    province: str = ""
    city: str = ""
    alias: str = ""
    display_name: str = ""
    key_word: str = ""
    encry_chat_room_id: str = ""
    is_owner: int = 0
    chat_room_owner: str = ""
    py_initial: str = msgspec.field(default="", name="PYInitial")
    py_quan_pin: str = msgspec.field(default="", name="PYQuanPin")

    @property
    def is_group(self) -> bool:
        return self.user_name.startswith("@@") or self.user_name.endswith("@chatroom")


class RecommendInfo(Pascal):
    user_name: str = ""
    nick_name: str = ""
    content: str = ""
    ticket: str = ""
    scene: int = 0
    op_code: int = 0
    sex: int = 0
    province: str = ""
    city: str = ""
    alias: str = ""
    signature: str = ""
    verify_flag: int = 0


class AppInfo(Pascal):
    app_id: str = msgspec.field(default="", name="AppID")
    type: int = 0


class AddMsg(Pascal):
    """One record of webwxsync's AddMsgList (§7.1)."""

    msg_id: str | int = ""
    new_msg_id: int = 0
    from_user_name: str = ""
    to_user_name: str = ""
    msg_type: int = 0
    content: str = ""
    status: int = 0
    img_status: int = 0
    create_time: int = 0
    voice_length: int = 0
    play_length: int = 0
    file_name: str = ""
    file_size: str | int = ""
    media_id: str = ""
    url: str = ""
    app_msg_type: int = 0
    status_notify_code: int = 0
    status_notify_user_name: str = ""
    recommend_info: RecommendInfo = msgspec.field(default_factory=RecommendInfo)
    app_info: AppInfo = msgspec.field(default_factory=AppInfo)
    ticket: str = ""
    img_height: int = 0
    img_width: int = 0
    sub_msg_type: int = 0
    ori_content: str = ""
    encry_file_name: str = ""


class DelContact(Pascal):
    user_name: str = ""
    contact_flag: int = 0


class Profile(Pascal):
    bit_flag: int = 0


class InitReply(Reply):
    count: int = 0
    contact_list: list[Contact] = msgspec.field(default_factory=list)
    sync_key: SyncKey = msgspec.field(default_factory=SyncKey)
    user: Contact = msgspec.field(default_factory=Contact)
    chat_set: str = ""
    skey: str = msgspec.field(default="", name="SKey")
    system_time: int = 0
    invite_start_count: int = 40


class ContactPage(Reply):
    member_count: int = 0
    member_list: list[Contact] = msgspec.field(default_factory=list)
    seq: int = 0


class BatchContactReply(Reply):
    count: int = 0
    contact_list: list[Contact] = msgspec.field(default_factory=list)


class SyncReply(Reply):
    add_msg_count: int = 0
    add_msg_list: list[AddMsg] = msgspec.field(default_factory=list)
    mod_contact_count: int = 0
    mod_contact_list: list[Contact] = msgspec.field(default_factory=list)
    del_contact_count: int = 0
    del_contact_list: list[DelContact] = msgspec.field(default_factory=list)
    profile: Profile = msgspec.field(default_factory=Profile)
    continue_flag: int = 0
    sync_key: SyncKey = msgspec.field(default_factory=SyncKey)
    sync_check_key: SyncKey = msgspec.field(default_factory=SyncKey)
    skey: str = msgspec.field(default="", name="SKey")


class SendReply(Reply):
    msg_id: str | int = msgspec.field(default="", name="MsgID")
    local_id: str | int = msgspec.field(default="", name="LocalID")


class UploadReply(Reply):
    media_id: str = ""
    start_pos: int = 0
    encry_file_name: str = ""


class CreateChatroomReply(Reply):
    topic: str = ""
    member_count: int = 0
    member_list: list[Member] = msgspec.field(default_factory=list)
    chat_room_name: str = ""


class PushLoginReply(msgspec.Struct):
    """webwxpushloginurl: lower-case keys, ``ret`` as a string (§2)."""

    ret: str | int = "1"
    msg: str = ""
    uuid: str = ""


_decoders: dict[type, msgspec.json.Decoder] = {}


def decode(type_: type, data: bytes):
    """Decode a WeChat reply leniently into ``type_`` (decoders are built once per type)."""
    decoder = _decoders.get(type_)
    if decoder is None:
        decoder = _decoders[type_] = msgspec.json.Decoder(type_, strict=False)
    return decoder.decode(data)


encode = msgspec.json.Encoder().encode
