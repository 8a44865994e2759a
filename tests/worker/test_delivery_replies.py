"""The reply protocol's parsing (replies.parse_reply): which answers ask for what."""

from __future__ import annotations

import httpx
import pytest

from openwx_worker import models
from openwx_worker.webhook_replies import ReplyRequest, parse_reply


def answer(body: bytes | str, ctype: str = "application/json", status: int = 200):
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, headers={"Content-Type": ctype}, content=content)


def recv(type_: str = "friend_message", **kw) -> models.ReceiveMessage:
    fields = dict(id="1", msg_class="recv", type=type_, time=1, content="hi", event_id=7,
                  sender_id="@friend", receiver_id="@me")
    if type_ != "friend_message":
        fields.update(group_id="@@group", sender_id="@member")
    if type_ == "group_notice":
        fields.pop("sender_id")
    fields.update(kw)
    return models.ReceiveMessage(**fields)


def sent(type_: str = "friend_message", **kw) -> models.SendMessage:
    fields = dict(id="2:@friend", msg_class="send", type=type_, time=1, content="yo",
                  event_id=8, sender_id="@me", receiver_id="@friend", group_id="",
                  source="local", from_="api")
    if type_ == "group_message":
        fields.update(receiver_id="", group_id="@@group")
    fields.update(kw)
    return models.SendMessage(**fields)


def test_friend_message_reply_goes_to_the_sender():
    got = parse_reply(recv(), answer('{"reply":"你好","code":0}'))
    assert got == ReplyRequest(chat_id="@friend", text="你好", media=None, event_id=7)


def test_group_message_reply_goes_to_the_group_with_media():
    body = '{"reply":"给你发个图片","media":"http://example.com/test.jpg","code":0}'
    got = parse_reply(recv("group_message"), answer(body, "text/json; charset=UTF-8"))
    assert got == ReplyRequest(
        chat_id="@@group", text="给你发个图片", media="http://example.com/test.jpg", event_id=7)


def test_media_alone_and_local_paths_are_kept():
    got = parse_reply(recv(), answer('{"media":"/tmp/test.jpg"}'))
    assert got is not None and got.text is None and got.media == "/tmp/test.jpg"


@pytest.mark.parametrize(
    "response",
    [
        answer('{"reply":"x"}', "text/plain"),  # not JSON content type
        answer('{"reply":"x"}', "application/jsonp"),
        answer('{"reply":"x"}', status=500),
        answer("not json"),
        answer('["reply"]'),
        answer('{"code":0}'),
        answer('{"reply":""}'),
        answer('{"reply":null,"media":""}'),
        answer('{"reply":true}'),
    ],
)
def test_answers_that_ask_for_nothing(response):
    assert parse_reply(recv(), response) is None


def test_numbers_are_sent_as_text():
    assert parse_reply(recv(), answer('{"reply":42}')).text == "42"


def test_group_notice_is_never_answered():
    assert parse_reply(recv("group_notice"), answer('{"reply":"x"}')) is None


def test_send_message_reply_goes_to_the_same_chat_text_only():
    got = parse_reply(sent(), answer('{"reply":"again","media":"http://x/y.jpg"}'))
    assert got == ReplyRequest(chat_id="@friend", text="again", media=None, event_id=8)
    got = parse_reply(sent("group_message"), answer('{"reply":"again"}'))
    assert got is not None and got.chat_id == "@@group"
    assert parse_reply(sent(), answer('{"media":"http://x/y.jpg"}')) is None
    assert parse_reply(sent(format="media"), answer('{"reply":"x"}')) is None


def test_replies_to_our_own_replies_do_not_loop():
    """Reference H.6: a reply is itself reported as send_message; answering it looped."""
    assert parse_reply(sent(from_="code"), answer('{"reply":"again"}')) is None
    assert parse_reply(sent(id="99:@friend"), answer('{"reply":"again"}'),
                       own_sends={"99:@friend"}) is None
    # WeChat's echo of our reply, should it be reported, carries the bare MsgID
    assert parse_reply(sent(id="99", source="outer", from_=None), answer('{"reply":"x"}'),
                       own_sends={"99:@friend", "99"}) is None


def test_events_are_never_answered():
    item = models.event("login", 1)
    item.event_id = 3
    assert parse_reply(item, answer('{"reply":"x"}')) is None
