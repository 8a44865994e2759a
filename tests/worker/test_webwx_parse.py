"""The protocol layer's parsers and error translation (pure functions)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openwx_worker import errors
from openwx_worker.webwx.errors import check_ret
from openwx_worker.webwx.login import parse_js, parse_login_xml
from openwx_worker.webwx.payloads import SyncKey, SyncKeyItem, SyncReply, decode
from openwx_worker.webwx.sync import parse_synccheck


def test_parse_js_jslogin_and_login_answers():
    assert parse_js('window.QRLogin.code = 200; window.QRLogin.uuid = "gbyKnbsmqQ==";') == {
        "QRLogin.code": "200", "QRLogin.uuid": "gbyKnbsmqQ=="}
    got = parse_js('window.code=200;\nwindow.redirect_uri="https://wx2.qq.com/x?ticket=A@q&s=1";')
    assert got == {"code": "200", "redirect_uri": "https://wx2.qq.com/x?ticket=A@q&s=1"}
    got = parse_js("window.code=201;window.userAvatar = 'data:img/jpg;base64,AAA=';")
    assert got["userAvatar"] == "data:img/jpg;base64,AAA="


def test_parse_synccheck():
    assert parse_synccheck('window.synccheck={retcode:"0",selector:"2"}').selector == 2
    assert parse_synccheck('window.synccheck={retcode:"1101",selector:"0"}').retcode == 1101
    with pytest.raises(errors.ProtocolError):
        parse_synccheck("6f:00:8a:9c garbage")


def test_parse_login_xml():
    ret, values = parse_login_xml(
        "<error><ret>0</ret><message></message><skey>@crypt_1_2</skey><wxsid>S</wxsid>"
        "<wxuin>123</wxuin><pass_ticket>a%2Bb</pass_ticket><isgrayscale>1</isgrayscale></error>")
    assert ret == 0 and values["wxuin"] == "123" and values["pass_ticket"] == "a%2Bb"
    ret, values = parse_login_xml("<error><ret>1203</ret><message>不能登录</message></error>")
    assert ret == 1203 and values["message"] == "不能登录"
    with pytest.raises(errors.ProtocolError):
        parse_login_xml("<html>")


@pytest.mark.parametrize(
    ("ret", "kind"),
    [(1100, errors.LoggedOut), (1101, errors.SessionInvalid), (1102, errors.CookieInvalid),
     (1203, errors.Refused), (1205, errors.TooFrequent), (1, errors.WeChatError)],
)
def test_ret_codes_become_types(ret, kind):
    with pytest.raises(kind) as info:
        check_ret(ret, "msg")
    assert info.value.ret == ret and info.value.message == "msg"
    assert isinstance(info.value, errors.ClientError)


def test_session_errors_are_session_ended():
    for ret in (1100, 1101, 1102):
        assert isinstance(errors.wechat_error(ret), errors.SessionEnded)
    assert not isinstance(errors.wechat_error(1205), errors.SessionEnded)


def test_sync_reply_lenient_and_two_keys():
    reply = decode(SyncReply, b'{"BaseResponse":{"Ret":"0","ErrMsg":""},"AddMsgList":'
                   b'[{"MsgId":"123","NewMsgId":123,"FileSize":"","Unknown":1}],'
                   b'"SyncKey":{"Count":1,"List":[{"Key":1,"Val":5}]},'
                   b'"SyncCheckKey":{"Count":1,"List":[{"Key":1,"Val":6}]}}')
    assert reply.add_msg_list[0].msg_id == "123"
    assert reply.sync_key.as_query() == "1_5" and reply.sync_check_key.as_query() == "1_6"
    key = SyncKey(count=2, items=[SyncKeyItem(key=1, val=2), SyncKeyItem(key=1000, val=9)])
    assert key.as_query() == "1_2|1000_9"


def test_client_msg_ids_never_repeat():
    from openwx_worker.webwx.session import Session

    session = Session(http=None)  # type: ignore[arg-type]
    ids = [session.next_client_msg_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids) and all(len(i) == 17 for i in ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


@given(st.text())
def test_garbage_never_escapes_as_anything_but_protocol_error(text):
    for parse in (parse_synccheck, parse_login_xml):
        try:
            parse(text)
        except errors.ProtocolError:
            pass
    assert isinstance(parse_js(text), dict)


@given(st.binary())
def test_any_reply_bytes_decode_or_fail_cleanly(data):
    try:
        decode(SyncReply, data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
