"""Protocol records → models (convert.py): the cases the simulator does not produce."""

from __future__ import annotations

import time

from openwx_worker.contacts import ContactBook
from openwx_worker.convert import (
    friend_from,
    group_from,
    message_from,
    split_group_content,
    user_from,
)
from openwx_worker.text import emoji_name
from openwx_worker.webwx.payloads import AddMsg, Contact, Member


def _book() -> ContactBook:
    book = ContactBook()
    me = user_from(Contact(user_name="@me", nick_name="Me", uin=7), emoji_to_text=False)
    friend = friend_from(Contact(user_name="@f", nick_name="A&amp;B <span class=\"emoji "
                                 "emoji1f604\"></span>", remark_name=""), emoji_to_text=False)
    group = group_from(Contact(user_name="@@g", nick_name="", member_list=[
        Member(user_name="@me", nick_name="Me"), Member(user_name="@m1", nick_name="One"),
        Member(user_name="@m2", nick_name="Two", display_name="二")]), self_id="@me",
        emoji_to_text=False)
    book.replace_all(me, [friend], [group])
    return book


def test_names_are_cleaned_and_group_name_falls_back_to_members():
    book = _book()
    assert book.friend("@f").name == "A&B 😄"
    assert book.group("@@g").displayname == "One、二"


def test_emoji_to_text_option():
    f = friend_from(Contact(user_name="@x", nick_name='<span class="emoji emoji1f604"></span>'),
                    emoji_to_text=True)
    assert f.name.startswith("[") and f.name.endswith("]")


def test_group_prefix_split():
    assert split_group_content("@abc:<br/>hi<br/>there") == ("@abc", "hi<br/>there")
    assert split_group_content("no prefix") == ("", "no prefix")


def test_own_revoke_from_another_device_is_a_send():
    content = ("&lt;sysmsg type=\"revokemsg\"&gt;&lt;revokemsg&gt;&lt;session&gt;wxid_x"
               "&lt;/session&gt;&lt;msgid&gt;42&lt;/msgid&gt;&lt;replacemsg&gt;&lt;![CDATA[你撤回了一条消息]]"
               "&gt;&lt;/replacemsg&gt;&lt;/revokemsg&gt;&lt;/sysmsg&gt;")
    m = message_from(AddMsg(msg_id="9", msg_type=10002, from_user_name="@f",
                            to_user_name="@me", content=content), _book(), emoji_to_text=False)
    assert m.format == "revoke" and m.revoke_id == "42"
    assert m.msg_class == "send" and m.source == "outer"


def test_transfer_is_payment_and_unknown_app_is_kept():
    xml = ("&lt;msg&gt;&lt;appmsg&gt;&lt;title&gt;微信转账&lt;/title&gt;&lt;des&gt;收到转账0.10元"
           "&lt;/des&gt;&lt;type&gt;2000&lt;/type&gt;&lt;/appmsg&gt;&lt;/msg&gt;")
    m = message_from(AddMsg(msg_id="1", msg_type=49, app_msg_type=2000, from_user_name="@f",
                            to_user_name="@me", content=xml), _book(), emoji_to_text=False)
    assert m.format == "payment" and m.content == "[转账](收到转账0.10元)"
    m = message_from(AddMsg(msg_id="2", msg_type=49, app_msg_type=33, from_user_name="@f",
                            to_user_name="@me", file_name="mini program", url="https://x"),
                     _book(), emoji_to_text=False)
    assert m.format == "app" and m.app_title == "mini program"


def test_status_notify_and_voip_are_not_messages():
    book = _book()
    for t in (51, 50, 52, 53, 40):
        assert message_from(AddMsg(msg_id="3", msg_type=t, from_user_name="@me",
                                   to_user_name="@me"), book, emoji_to_text=False) is None


def test_group_message_from_unknown_member_has_placeholder_sender():
    m = message_from(AddMsg(msg_id="4", msg_type=1, from_user_name="@@g", to_user_name="@me",
                            content="@zz:<br/>hello"), _book(), emoji_to_text=False)
    assert m.sender_id == "@zz" and m.sender == "昵称未知" and m.content == "hello"


def test_log_line_names_chat_sender_and_content():
    from openwx_worker.convert import log_line

    m = message_from(AddMsg(msg_id="5", msg_type=1, from_user_name="@@g", to_user_name="@me",
                            content="@m2:<br/>a<br/>b", create_time=1_700_000_000),
                     _book(), emoji_to_text=False)
    stamp = time.strftime("%H:%M:%S", time.localtime(1_700_000_000))
    assert log_line(m) == f"{stamp} [群消息] 二 @ One、二 : a\\nb"  # one line, with its time
    m = message_from(AddMsg(msg_id="6", msg_type=1, from_user_name="@f", to_user_name="@me",
                            content="x<br/>y", create_time=1_700_000_000),
                     _book(), emoji_to_text=False)
    assert log_line(m) == f"{stamp} [好友消息] A&B 😄 -> Me : x\\ny"


def test_every_contact_name_is_cleaned():
    """Nick, remark, signature, group topic, member nick and card: entities, <br/> and
    emoji spans, as the real service may send any of them (web-protocol.md 5, 7.6)."""
    raw = 'A&amp;B&lt;i&gt; <span class="emoji emoji1f604"></span>'
    for emoji, want in ((False, "A&B<i> 😄"), (True, "A&B<i> [" + emoji_name("😄") + "]")):
        me = user_from(Contact(user_name="@me", nick_name=raw, remark_name=raw, signature=raw),
                       emoji_to_text=emoji)
        assert (me.name, me.markname, me.signature) == (want, want, want)
        f = friend_from(Contact(user_name="@f", nick_name=raw, remark_name=raw, signature=raw),
                        emoji_to_text=emoji)
        assert (f.name, f.markname, f.signature, f.displayname) == (want,) * 4
        g = group_from(Contact(user_name="@@g", nick_name=raw, member_list=[
            Member(user_name="@m", nick_name=raw, display_name=raw)]), self_id="@me",
            emoji_to_text=emoji)
        assert g.name == want and g.displayname == want
        m = g.member[0]
        assert (m.name, m.markname, m.display, m.displayname) == (want,) * 4
