"""The model JSON against the examples of openwx-api.zh.md and reference 0.2 / C.2 / C.3.

Examples are copied from the API document; where the document's sample values differ
from what Mojo::Weixin really emits (reference 0.2: friend ``uid`` is always "", friend
``sex`` is "", "male" or "female"), the test says so and follows the reference.
"""

import json

import msgspec
import pytest

from openwx_worker import models
from openwx_worker.models import (
    UNSET,
    Event,
    Friend,
    GroupMember,
    ReceiveMessage,
    SendMessage,
    User,
    decode_posted,
    encode,
    event,
    filehelper_friend,
    friend_category,
    group_displayname,
    is_group_id,
    make_friend,
    make_group,
    make_member,
    make_user,
    sex_name,
)


def as_json(obj):
    return json.loads(encode(obj))


# ------------------------------------------------------------------ contacts

DOC_USER = {
    "account": "xxx",
    "name": "xxx",
    "markname": "",
    "sex": "none",
    "display": "",
    "city": "",
    "signature": "帮助解决微信支付中遇到的困难,收集关于微信支付的建议反馈。",
    "province": "广东",
    "id": "@efc5f86c30df4b9c80e98ac428e0e257",
    "uid": 123,
    "displayname": "xxx",
}

DOC_FRIENDS = [
    {
        "account": "wxzhifu",
        "name": "微信支付",
        "category": "公众号",
        "markname": "",
        "sex": "none",
        "display": "",
        "city": "",
        "signature": "帮助解决微信支付中遇到的困难,收集关于微信支付的建议反馈。",
        "province": "广东",
        "id": "@efc5f86c30df4b9c80e98ac428e0e257",
        "uid": 123456,
        "displayname": "微信支付",
    },
    {
        "account": "",
        "name": "小灰",
        "category": "好友",
        "markname": "",
        "sex": "none",
        "display": "",
        "city": "深圳",
        "signature": "小灰灰的个性签名",
        "province": "广东",
        "id": "@00227d73fa6b8326f69bca419db7a05c",
        "uid": 123456,
        "displayname": "小灰",
    },
]

DOC_MEMBER = {
    "account": "",
    "name": "xxx",
    "markname": "",
    "sex": "none",
    "display": "",
    "city": "",
    "signature": "",
    "province": "",
    "id": "@adadada",
    "uid": 123456,
    "displayname": "xxx",
}


def test_user_json_matches_get_user_info_example():
    user = make_user(
        id=DOC_USER["id"], uid=123, name="xxx", account="xxx", province="广东",
        signature=DOC_USER["signature"], sex=0,
    )  # fmt: skip
    got = as_json(user)
    assert set(got) == set(DOC_USER)
    # sex: Mojo::Weixin keeps the user's raw WeChat code (reference 0.2 quirk, H "keep").
    assert {k: v for k, v in got.items() if k != "sex"} == {
        k: v for k, v in DOC_USER.items() if k != "sex"
    }
    assert got["sex"] == 0


@pytest.mark.parametrize("doc", DOC_FRIENDS, ids=["official", "person"])
def test_friend_json_matches_get_friend_info_example(doc):
    friend = make_friend(
        id=doc["id"], name=doc["name"], account=doc["account"], province=doc["province"],
        city=doc["city"], signature=doc["signature"], sex=0,
        verify_flag=24 if doc["category"] == "公众号" else 0,
    )  # fmt: skip
    got = as_json(friend)
    assert set(got) == set(doc)
    # The document's sample uid/sex values are placeholders; reference 0.2: uid is
    # always "" for friends and sex is "", "male" or "female".
    assert got["uid"] == ""
    assert got["sex"] == ""
    for key in set(doc) - {"uid", "sex"}:
        assert got[key] == doc[key], key


def test_filehelper_friend_has_only_its_five_keys():
    assert as_json(filehelper_friend()) == {
        "name": "文件传输助手",
        "id": "filehelper",
        "uid": "",
        "category": "系统帐号",
        "displayname": "文件传输助手",
    }


def test_member_json_matches_get_group_info_example():
    member = make_member(id="@adadada", nickname="xxx", account="", sex=0)
    got = as_json(member)
    assert set(got) == set(DOC_MEMBER)
    assert got["uid"] == ""
    assert got["sex"] == ""
    # Mojo::Weixin puts the nickname in markname (clients rely on it, reference 0.2);
    # the document's example shows it in name: both carry it.
    assert got["markname"] == "xxx"
    for key in set(DOC_MEMBER) - {"uid", "sex", "markname"}:
        assert got[key] == DOC_MEMBER[key], key


def test_partly_known_member_has_no_account_or_sex():
    got = as_json(make_member(id="@m", nickname="n"))
    assert "account" not in got and "sex" not in got


def test_group_json_matches_get_group_info_example():
    members = [make_member(id="@adadada", nickname="xxx"), make_member(id="@me", nickname="me")]
    group = make_group(id="@@dadadadada", name="", members=members, self_id="@me")
    got = as_json(group)
    # The document's keys, plus owner_uid which Mojo::Weixin also emits (reference 0.2).
    assert set(got) == {"name", "id", "uid", "displayname", "member", "owner_uid"}
    assert got["name"] == "" and got["uid"] == "" and got["id"] == "@@dadadadada"
    assert got["displayname"] == "xxx"
    assert [m["id"] for m in got["member"]] == ["@adadada", "@me"]


def test_group_without_members_drops_member_key():
    group = make_group(id="@@g", name="topic")
    assert "member" not in as_json(group.without_members())
    assert as_json(group)["member"] == []


def test_keys_are_sorted_and_non_ascii_is_raw():
    raw = encode(make_friend(id="@a", name="小灰"))
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert "小灰".encode() in raw


# ------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("display", "markname", "name", "expected"),
    [
        ("card", "remark", "nick", "card"),
        ("", "remark", "nick", "remark"),
        ("", "", "nick", "nick"),
        ("", "", "", "昵称未知"),
        (UNSET, UNSET, "", "昵称未知"),
    ],
)
def test_friend_and_member_displayname(display, markname, name, expected):
    assert Friend(id="@a", display=display, markname=markname, name=name).displayname == expected
    member = GroupMember(id="@a", display=display, markname=markname, name=name or UNSET)
    assert member.displayname == expected


def test_user_displayname_may_be_empty():
    assert User(id="@u", display="d", markname="m", name="n").displayname == "d"
    assert User(id="@u", markname="m", name="n").displayname == "m"
    assert User(id="@u", name="n").displayname == "n"
    assert User(id="@u").displayname == ""


def test_displayname_follows_replace_and_decode():
    friend = make_friend(id="@a", name="nick")
    renamed = msgspec.structs.replace(friend, markname="remark")
    assert renamed.displayname == "remark"
    decoded = msgspec.json.decode(b'{"id":"@a","name":"n","displayname":"wrong"}', type=Friend)
    assert decoded.displayname == "n"


def test_contacts_are_frozen():
    with pytest.raises(AttributeError):
        make_friend(id="@a").markname = "x"  # type: ignore[misc]


def test_group_displayname_rules():
    me = make_member(id="@me", nickname="me")
    others = [make_member(id=f"@m{i}", nickname=f"n{i}") for i in range(5)]
    assert group_displayname("topic", (me, *others), "@me") == "topic"
    assert group_displayname("", (me, *others), "@me") == "n0、n1、n2"
    assert group_displayname("", (others[0], me, others[1]), "@me") == "n0、n1"
    assert group_displayname("", (me,), "@me") == "群名未知"
    assert group_displayname("", (), "@me") == "群名未知"
    card = make_member(id="@c", nickname="nick", display="card")
    assert group_displayname("", (card,), "@me") == "card"


def test_group_with_displayname_recomputes():
    group = make_group(id="@@g", members=[make_member(id="@a", nickname="a")], self_id="@me")
    assert group.displayname == "a"
    assert group.with_displayname("@a").displayname == "群名未知"


@pytest.mark.parametrize(
    ("contact_id", "verify_flag", "expected"),
    [
        ("filehelper", 0, "系统帐号"),
        ("fmessage", 0, "系统帐号"),
        ("wxid_novlwrv3lqwv11", 0, "系统帐号"),
        ("notification_messages", 24, "系统帐号"),
        ("@abc", 8, "公众号"),
        ("@abc", 24, "公众号"),
        ("@abc", 16, "好友"),
        ("@abc", 0, "好友"),
    ],
)
def test_category(contact_id, verify_flag, expected):
    assert friend_category(contact_id, verify_flag) == expected
    assert make_friend(id=contact_id, verify_flag=verify_flag).category == expected


@pytest.mark.parametrize(
    ("code", "expected"), [(0, ""), (1, "male"), (2, "female"), ("1", "male"), (None, ""), (9, "")]
)
def test_sex_mapping(code, expected):
    assert sex_name(code) == expected


def test_member_sex_is_mapped_user_sex_is_raw():
    assert make_member(id="@m", sex=2).sex == "female"
    assert make_friend(id="@f", sex=1).sex == "male"
    assert make_user(id="@u", uid=1, sex=1).sex == 1


@pytest.mark.parametrize(
    ("contact_id", "expected"),
    [("@@abc", True), ("123@chatroom", True), ("@abc", False), ("filehelper", False)],
)
def test_is_group_id(contact_id, expected):
    assert is_group_id(contact_id) is expected


# ------------------------------------------------------------------ messages

DOC_RECEIVE_GROUP_TEXT = {
    "receiver": "小灰", "time": "1442542632", "content": "测试一下", "class": "recv",
    "sender_id": "@2372835507", "sender_uid": 123456, "receiver_id": "@4072574066",
    "receiver_name": "小灰", "receiver_uid": 123456, "group": "PERL学习交流",
    "group_id": "@@2617047292", "group_uid": 123456, "group_name": "PERL学习交流",
    "sender": "灰灰", "sender_name": "灰灰", "id": "10856", "uid": 123456,
    "type": "group_message", "format": "text", "post_type": "receive_message",
}  # fmt: skip

DOC_GROUP_NOTICE = {
    "receiver": "小灰", "time": "1442542632", "content": "你邀请灰太狼加入了群聊",
    "class": "recv", "receiver_id": "@4072574066", "receiver_name": "小灰",
    "receiver_uid": 123456, "group": "PERL学习交流", "group_name": "PERL学习交流",
    "group_id": "@@2617047292", "id": "10856", "type": "group_notice", "format": "text",
    "post_type": "receive_message",
}  # fmt: skip

DOC_SEND_GROUP_TEXT = {
    "receiver": "小灰", "time": "1442542632", "content": "测试一下", "class": "send",
    "sender_id": "@2372835507", "receiver_id": "@4072574066", "receiver_uid": 123456,
    "receiver_name": "小灰", "group": "PERL学习交流", "group_id": "@@2617047292",
    "group_name": "PERL学习交流", "group_uid": 123456, "sender": "灰灰",
    "sender_uid": 123456, "sender_name": "灰灰", "id": "10856", "type": "group_message",
    "format": "text", "post_type": "send_message",
}  # fmt: skip

DOC_MEDIA = {
    "receiver": "小灰", "time": "1442542632",
    "content": "[media](/tmp/mojo_weixin_media_Ja9l.jpg)",
    "media_path": "/tmp/mojo_weixin_media_Ja9l.jpg", "media_id": "2273934420223351581",
    "media_mime": "image/jpg", "media_name": "mojo_weixin_media_Ja9l.jpg",
    "media_size": "1234567", "media_mtime": "1462763788", "media_ext": "jpg",
    "media_data": "pXA88GiUcCncmxUgt2JbJxRVu2/1j0U2xJH//2Q==\n", "class": "recv",
    "sender_id": "@2372835507", "receiver_id": "@4072574066", "receiver_uid": "",
    "receiver_name": "", "group": "PERL学习交流", "group_id": "@@2617047292",
    "group_name": "", "group_uid": "", "sender": "灰灰", "sender_name": "",
    "sender_uid": "", "id": "10856", "type": "group_message", "format": "media",
    "post_type": "receive_message",
}  # fmt: skip

DOC_APP = {
    "receiver": "小灰", "receiver_uid": "", "receiver_name": "", "time": "1442542632",
    "content": "[应用分享]标题:饿了么给你发红包", "app_name": "饿了么", "app_id": "wx123456",
    "app_title": "饿了么给你发红包", "app_desc": "撩拨你的深夜味蕾,第2份半价!",
    "app_url": "https://h.ele.me/hongbao", "class": "recv", "sender_id": "@2372835507",
    "receiver_id": "@4072574066", "group": "PERL学习交流", "group_id": "@@2617047292",
    "group_uid": "", "group_name": "", "sender": "灰灰", "sender_uid": "", "sender_name": "",
    "id": "10856", "type": "group_message", "format": "app", "post_type": "receive_message",
}  # fmt: skip

DOC_REVOKE = {
    "time": "1442542632", "content": "[撤回消息](你撤回了一条消息)",
    "revoke_id": "2513410439052032973", "class": "send", "sender_id": "@2372835507",
    "sender_uid": 123456, "group": "PERL学习交流", "group_id": "@@2617047292",
    "group_uid": 123456, "group_name": "PERL学习交流", "sender": "灰灰",
    "sender_name": "灰灰", "id": "10856", "uid": 123456, "type": "group_message",
    "format": "revoke", "post_type": "send_message",
}  # fmt: skip

DOC_CHECK_EVENT_SEND = {
    "class": "send", "content": " hello world", "format": "text", "from": "none",
    "id": "2647366348175870091", "post_type": "send_message", "receiver": "文件传输助手",
    "receiver_account": "", "receiver_id": "filehelper", "receiver_name": "文件传输助手",
    "receiver_uid": "", "sender": "小灰", "sender_markname": "xxx",
    "sender_category": "系统帐号", "time": "1479787946", "type": "friend_message",
}  # fmt: skip


def _build(doc):
    fields = {k: v for k, v in doc.items() if k not in ("post_type", "class", "from")}
    cls = ReceiveMessage if doc["post_type"] == "receive_message" else SendMessage
    extra = {"from_": doc["from"]} if "from" in doc else {}
    return cls(msg_class=doc["class"], **fields, **extra)


@pytest.mark.parametrize(
    "doc",
    [
        DOC_RECEIVE_GROUP_TEXT,
        DOC_GROUP_NOTICE,
        DOC_SEND_GROUP_TEXT,
        DOC_MEDIA,
        DOC_APP,
        DOC_REVOKE,
        DOC_CHECK_EVENT_SEND,
    ],
    ids=["recv-group", "notice", "send-group", "media", "app", "revoke", "check-event"],
)
def test_message_json_matches_document_examples(doc):
    message = _build(doc)
    got = as_json(message)
    # event_id is the one addition (docs/internals.md); null until published.
    assert got.pop("event_id") is None
    assert got == doc
    assert decode_posted(encode(message)) == message


def test_card_message_has_the_card_fields():
    doc = {
        "card_avatar": "http://wx.qlogo.cn/mmhead/ver_1/k99g/0",
        "card_id": "@bc9b2967ec91315f4dd47e5e3d0e33ee", "card_account": "",
        "card_city": "中国", "card_province": "上海", "card_name": "xxx", "card_sex": "male",
        "sender_id": "@b2c5637bb8e158a5a29eca00ac9ed0f9", "receiver_id": "filehelper",
        "id": "5604497552796809997", "format": "card", "type": "friend_message",
        "class": "send", "time": "1482985638",
    }  # fmt: skip
    message = _build({**doc, "post_type": "send_message"})
    got = as_json(message)
    assert got.items() >= doc.items()
    assert got["post_type"] == "send_message"


def test_message_falsy_scalars_are_written_as_empty_string():
    message = SendMessage(
        id="1", type="friend_message", msg_class="send", time=1479787946, code=0,
        receiver_uid=0, sender_uid=None, ttl=0, content="",
    )  # fmt: skip
    got = as_json(message)
    assert got["code"] == "" and got["receiver_uid"] == "" and got["sender_uid"] == ""
    assert got["ttl"] == "" and got["content"] == ""
    assert got["time"] == 1479787946  # time is a number in practice (reference C.2)
    assert "media_data" not in got


def test_message_event_id_is_settable_and_kept():
    message = ReceiveMessage(id="1", type="friend_message", msg_class="recv", time=1)
    message.event_id = 7
    assert as_json(message)["event_id"] == 7
    assert decode_posted(encode(message)).event_id == 7
    assert message.post_type == "receive_message"


def test_message_without_media_data_for_post_media_data_0():
    message = _build(DOC_MEDIA)
    stripped = msgspec.structs.replace(message, media_data=UNSET)
    assert "media_data" not in as_json(stripped)


# ------------------------------------------------------------------ events


def test_update_user_event_matches_example():
    user = make_user(
        id=DOC_USER["id"], uid=123, name="xxx", account="xxx", province="广东",
        signature=DOC_USER["signature"],
    )  # fmt: skip
    got = as_json(event("update_user", user))
    assert got.pop("event_id") is None
    assert got["post_type"] == "event" and got["event"] == "update_user"
    assert len(got["params"]) == 1 and set(got["params"][0]) == set(DOC_USER)


def test_new_friend_event_carries_the_friend():
    friend = make_friend(
        id="@75b9db5ae52c87361d1800eaaf307f4d", account="ms-xiaoice", name="小冰",
        city="海淀", province="北京", signature="我是人工智能微软小冰,我回来了,吼吼~~",
    )  # fmt: skip
    got = as_json(event("new_friend", friend))
    # The document's example is an older, looser shape; every key it shows is here.
    doc_keys = {"account", "name", "markname", "sex", "city", "signature", "province",
                "displayname", "id"}  # fmt: skip
    assert doc_keys <= set(got["params"][0])
    assert got["params"][0]["displayname"] == "小冰"


def test_friend_request_and_input_qrcode_params_are_plain_values():
    got = as_json(
        event("friend_request", "@75ab55c416dbe3a", "小灰", "小灰请求加你为好友", "v2_85c@stranger")
    )
    assert got["params"] == ["@75ab55c416dbe3a", "小灰", "小灰请求加你为好友", "v2_85c@stranger"]
    qr = as_json(event("input_qrcode", "/tmp/qrcode.jpg", "/9j/4AAQ\n"))
    assert qr["params"] == ["/tmp/qrcode.jpg", "/9j/4AAQ\n"]


def test_posted_union_decodes_by_post_type():
    items = [
        event("state_change", "init", "loading"),
        _build(DOC_RECEIVE_GROUP_TEXT),
        _build(DOC_SEND_GROUP_TEXT),
    ]
    decoded = [decode_posted(encode(item)) for item in items]
    assert [type(d) for d in decoded] == [Event, ReceiveMessage, SendMessage]
    assert decoded[0].params == ["init", "loading"]
    assert isinstance(decoded[1], models.Message)
