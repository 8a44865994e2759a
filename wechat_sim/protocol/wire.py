"""JSON shapes of the web protocol (web-protocol.md 4-8), as msgspec Structs.

Replies list every documented key even when empty (12.4: clients index keys blindly).
Requests are decoded leniently (12.3): unknown keys ignored, `Uin` number or string,
`ClientMsgId` number or string, everything optional.
"""

from __future__ import annotations

import msgspec

# -- requests -----------------------------------------------------------------------------


class BaseRequest(msgspec.Struct, rename="pascal"):
    uin: int | str | None = None
    sid: str | None = None
    skey: str | None = None
    device_i_d: str | int | None = msgspec.field(default=None, name="DeviceID")


class KeyVal(msgspec.Struct, rename="pascal"):
    key: int
    val: int


class SyncKey(msgspec.Struct, rename="pascal"):
    count: int = 0
    list_: list[KeyVal] = msgspec.field(default_factory=list, name="List")


class Req(msgspec.Struct, rename="pascal"):
    base_request: BaseRequest | None = None


class StatusNotifyReq(Req):
    code: int = 0
    from_user_name: str = ""
    to_user_name: str = ""
    client_msg_id: int | str | float | None = None


class BatchItem(msgspec.Struct, rename="pascal"):
    user_name: str = ""
    encry_chat_room_id: str | None = None
    chat_room_id: str | int | None = None


class BatchReq(Req):
    count: int = 0
    list_: list[BatchItem] = msgspec.field(default_factory=list, name="List")


class SyncReq(Req):
    sync_key: SyncKey | None = None


class OutMsg(msgspec.Struct, rename="pascal"):
    type: int = 1
    content: str = ""
    from_user_name: str = ""
    to_user_name: str = ""
    local_i_d: int | str | float | None = msgspec.field(default=None, name="LocalID")
    client_msg_id: int | str | float | None = None
    media_id: str = ""


class SendReq(Req):
    msg: OutMsg | None = None
    scene: int = 0


# -- replies ------------------------------------------------------------------------------


class BaseResponse(msgspec.Struct, rename="pascal"):
    ret: int = 0
    err_msg: str = ""


class Member(msgspec.Struct, rename="pascal"):
    uin: int = 0
    user_name: str = ""
    nick_name: str = ""
    attr_status: int = 0
    py_initial: str = msgspec.field(default="", name="PYInitial")
    py_quan_pin: str = msgspec.field(default="", name="PYQuanPin")
    remark_py_initial: str = msgspec.field(default="", name="RemarkPYInitial")
    remark_py_quan_pin: str = msgspec.field(default="", name="RemarkPYQuanPin")
    member_status: int = 0
    display_name: str = ""
    key_word: str = ""


class Contact(msgspec.Struct, rename="pascal"):
    uin: int = 0
    user_name: str = ""
    nick_name: str = ""
    head_img_url: str = ""
    contact_flag: int = 0
    member_count: int = 0
    member_list: list[Member] = []
    remark_name: str = ""
    hide_input_bar_flag: int = 0
    sex: int = 0
    signature: str = ""
    verify_flag: int = 0
    owner_uin: int = 0
    py_initial: str = msgspec.field(default="", name="PYInitial")
    py_quan_pin: str = msgspec.field(default="", name="PYQuanPin")
    remark_py_initial: str = msgspec.field(default="", name="RemarkPYInitial")
    remark_py_quan_pin: str = msgspec.field(default="", name="RemarkPYQuanPin")
    star_friend: int = 0
    app_account_flag: int = 0
    statues: int = 0
    attr_status: int = 0
    province: str = ""
    city: str = ""
    alias: str = ""
    sns_flag: int = 0
    uni_friend: int = 0
    display_name: str = ""
    chat_room_id: int = 0
    key_word: str = ""
    encry_chat_room_id: str = ""
    is_owner: int = 0
    head_img_update_flag: int = 1
    contact_type: int = 0
    chat_room_owner: str = ""


class User(msgspec.Struct, rename="pascal"):
    uin: int = 0
    user_name: str = ""
    nick_name: str = ""
    head_img_url: str = ""
    remark_name: str = ""
    py_initial: str = msgspec.field(default="", name="PYInitial")
    py_quan_pin: str = msgspec.field(default="", name="PYQuanPin")
    remark_py_initial: str = msgspec.field(default="", name="RemarkPYInitial")
    remark_py_quan_pin: str = msgspec.field(default="", name="RemarkPYQuanPin")
    hide_input_bar_flag: int = 0
    star_friend: int = 0
    sex: int = 0
    signature: str = ""
    app_account_flag: int = 0
    verify_flag: int = 0
    contact_flag: int = 0
    web_wx_plugin_switch: int = 0
    head_img_flag: int = 1
    sns_flag: int = 17


class RecommendInfo(msgspec.Struct, rename="pascal"):
    user_name: str = ""
    nick_name: str = ""
    q_q_num: int = msgspec.field(default=0, name="QQNum")
    province: str = ""
    city: str = ""
    content: str = ""
    signature: str = ""
    alias: str = ""
    scene: int = 0
    verify_flag: int = 0
    attr_status: int = 0
    sex: int = 0
    ticket: str = ""
    op_code: int = 0


class AppInfo(msgspec.Struct, rename="pascal"):
    app_i_d: str = msgspec.field(default="", name="AppID")
    type: int = 0


class Msg(msgspec.Struct, rename="pascal"):
    msg_id: str = ""
    from_user_name: str = ""
    to_user_name: str = ""
    msg_type: int = 1
    content: str = ""
    status: int = 3
    img_status: int = 1
    create_time: int = 0
    voice_length: int = 0
    play_length: int = 0
    file_name: str = ""
    file_size: str = ""
    media_id: str = ""
    url: str = ""
    app_msg_type: int = 0
    status_notify_code: int = 0
    status_notify_user_name: str = ""
    recommend_info: RecommendInfo = msgspec.field(default_factory=RecommendInfo)
    forward_flag: int = 0
    app_info: AppInfo = msgspec.field(default_factory=AppInfo)
    has_product_id: int = 0
    ticket: str = ""
    img_height: int = 0
    img_width: int = 0
    sub_msg_type: int = 0
    new_msg_id: int = 0
    ori_content: str = ""
    encry_file_name: str = ""


class DelContact(msgspec.Struct, rename="pascal"):
    user_name: str
    contact_flag: int = 0


class Buff(msgspec.Struct, rename="pascal"):
    buff: str = ""


class Profile(msgspec.Struct, rename="pascal"):
    bit_flag: int = 0
    user_name: Buff = msgspec.field(default_factory=Buff)
    nick_name: Buff = msgspec.field(default_factory=Buff)
    bind_uin: int = 0
    bind_email: Buff = msgspec.field(default_factory=Buff)
    bind_mobile: Buff = msgspec.field(default_factory=Buff)
    status: int = 0
    sex: int = 0
    personal_card: int = 0
    alias: str = ""
    head_img_update_flag: int = 0
    head_img_url: str = ""
    signature: str = ""


class MPArticle(msgspec.Struct, rename="pascal"):
    title: str
    digest: str
    cover: str
    url: str


class MPSubscribeMsg(msgspec.Struct, rename="pascal"):
    user_name: str
    m_p_article_count: int = msgspec.field(name="MPArticleCount")
    m_p_article_list: list[MPArticle] = msgspec.field(name="MPArticleList")
    time: int = 0
    nick_name: str = ""


class InitResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse
    count: int
    contact_list: list[Contact]
    sync_key: SyncKey
    user: User
    chat_set: str
    s_key: str = msgspec.field(name="SKey")
    client_version: int = 385876258
    system_time: int = 0
    gray_scale: int = 1
    invite_start_count: int = 40
    mp_subscribe_msg_count: int = msgspec.field(default=0, name="MPSubscribeMsgCount")
    mp_subscribe_msg_list: list[MPSubscribeMsg] = msgspec.field(
        default_factory=list, name="MPSubscribeMsgList"
    )
    click_report_interval: int = 600000


class ContactResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse
    member_count: int
    member_list: list[Contact]
    seq: int


class BatchResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse
    count: int
    contact_list: list[Contact]


class SyncResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse
    add_msg_count: int = 0
    add_msg_list: list[Msg] = []
    mod_contact_count: int = 0
    mod_contact_list: list[Contact] = []
    del_contact_count: int = 0
    del_contact_list: list[DelContact] = []
    mod_chat_room_member_count: int = 0
    mod_chat_room_member_list: list[Member] = []
    profile: Profile = msgspec.field(default_factory=Profile)
    continue_flag: int = 0
    sync_key: SyncKey = msgspec.field(default_factory=SyncKey)
    sync_check_key: SyncKey = msgspec.field(default_factory=SyncKey)
    s_key: str = msgspec.field(default="", name="SKey")


class MsgIdResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse
    msg_i_d: str = msgspec.field(default="", name="MsgID")
    local_i_d: str = msgspec.field(default="", name="LocalID")


class PlainResp(msgspec.Struct, rename="pascal"):
    base_response: BaseResponse


def sync_key(pairs: tuple[tuple[int, int], ...]) -> SyncKey:
    return SyncKey(count=len(pairs), list_=[KeyVal(k, v) for k, v in pairs])


def pairs(key: SyncKey) -> tuple[tuple[int, int], ...]:
    return tuple((kv.key, kv.val) for kv in key.list_)


def error(ret: int, msg: str = "") -> PlainResp:
    return PlainResp(BaseResponse(ret, msg))
