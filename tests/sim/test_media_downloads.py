"""Downloads (web-protocol.md 7.7): media of messages the phone side injects, fetched the
way the reference's clients fetch them; avatars as real, deterministic JPEGs.
"""

from __future__ import annotations

import base64
import io
import random

from PIL import Image
from sim_webclient import ALICE, CGI

CAROL = "wxid_carol0000000001"
GROUP = "1234567890@chatroom"


async def inject(web, **body) -> tuple[str, dict]:
    r = await web.control("POST", f"/sim/accounts/{ALICE}/messages", {"from": CAROL, **body})
    assert r.status_code == 200, r.text
    msg_id = r.json()["msg_id"]
    data = await web.sync()
    [msg] = [m for m in data["AddMsgList"] if m["MsgId"] == msg_id]
    return msg_id, msg


def get(web, endpoint: str, **params):
    return web.http.get(f"{web.creds.main}{CGI}{endpoint}", params=params)


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


async def test_injected_image_full_and_thumbnail(alice):
    msg_id, msg = await inject(alice, type="image")
    assert msg["MsgType"] == 3
    full = await get(alice, "webwxgetmsgimg", MsgID=msg_id, skey=alice.creds.skey)
    assert full.status_code == 200 and full.headers["content-type"] == "image/jpeg"
    big = decode(full.content)
    assert big.format == "JPEG" and big.size == (msg["ImgWidth"], msg["ImgHeight"])
    # Mojo::Weixin's odd query start, verbatim
    m_style = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetmsgimg?=&MsgID={msg_id}&skey={alice.creds.skey}"
    )
    assert m_style.content == full.content
    # itchat: lower-case msgid with NewMsgId, and the thumbnail
    slave = await get(alice, "webwxgetmsgimg", msgid=msg["NewMsgId"], skey=alice.creds.skey,
                      type="slave")  # fmt: skip
    thumb = decode(slave.content)
    assert thumb.format == "JPEG" and max(thumb.size) <= 120


async def test_injected_image_with_given_bytes_in_a_group(alice):
    png = io.BytesIO()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(png, format="PNG")
    msg_id, msg = await inject(
        alice, type="image", group=GROUP, data_b64=base64.b64encode(png.getvalue()).decode()
    )
    assert msg["Content"].startswith("@")  # @sender:<br/> prefix
    r = await get(alice, "webwxgetmsgimg", MsgID=msg_id, skey=alice.creds.skey)
    assert r.content == png.getvalue() and r.headers["content-type"] == "image/png"


async def test_injected_voice(alice):
    msg_id, msg = await inject(alice, type="voice", seconds=4)
    assert msg["MsgType"] == 34 and msg["VoiceLength"] == 4000
    r = await get(alice, "webwxgetvoice", msgid=msg_id, skey=alice.creds.skey)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg"
    assert r.content[:3] == b"ID3" or r.content[:2] == b"\xff\xfb"


async def test_injected_video_with_ranges(alice):
    payload = b"\x00\x00\x00\x18ftypmp42" + random.randbytes(5000)
    msg_id, msg = await inject(alice, type="video", data_b64=base64.b64encode(payload).decode())
    assert msg["MsgType"] == 43
    size = len(payload)
    r = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetvideo",
        params={"msgid": msg_id, "skey": alice.creds.skey}, headers={"Range": "bytes=0-"},
    )  # fmt: skip
    assert r.status_code == 206 and r.content == payload
    assert r.headers["content-range"] == f"bytes 0-{size - 1}/{size}"
    assert r.headers["accept-ranges"] == "bytes" and r.headers["content-type"] == "video/mp4"
    part = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetvideo",
        params={"MsgID": msg_id, "skey": alice.creds.skey}, headers={"Range": "bytes=100-199"},
    )  # fmt: skip
    assert part.status_code == 206 and part.content == payload[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetvideo",
        params={"msgid": msg_id, "skey": alice.creds.skey}, headers={"Range": "bytes=-10"},
    )  # fmt: skip
    assert tail.content == payload[-10:]
    beyond = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetvideo",
        params={"msgid": msg_id, "skey": alice.creds.skey},
        headers={"Range": f"bytes={size}-"},
    )  # fmt: skip
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"
    cover = await get(alice, "webwxgetmsgimg", MsgID=msg_id, skey=alice.creds.skey, type="slave")
    assert decode(cover.content).format == "JPEG"


async def test_injected_emoji(alice):
    msg_id, msg = await inject(alice, type="emoji")
    assert msg["MsgType"] == 47
    r = await get(alice, "webwxgetmsgimg", MsgID=msg_id, skey=alice.creds.skey, type="big")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    assert decode(r.content).size[0] > 0


async def test_injected_file_via_file_host(alice):
    body = random.randbytes(3000)
    msg_id, msg = await inject(
        alice, type="file", file_name="合同 v2.pdf", data_b64=base64.b64encode(body).decode()
    )
    assert (msg["MsgType"], msg["AppMsgType"]) == (49, 6) and msg["MediaId"]
    params = {"sender": msg["FromUserName"], "mediaid": msg["MediaId"],
              "encryfilename": msg["EncryFileName"], "fromuser": alice.creds.uin,
              "pass_ticket": "undefined",
              "webwx_data_ticket": alice.http.cookies["webwx_data_ticket"]}  # fmt: skip
    r = await get(alice, "webwxgetmedia", **params)
    assert r.status_code == 200 and r.content == body
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    # a client without a cookie jar: the data ticket and wxuin name the session
    import httpx

    async with httpx.AsyncClient() as bare:
        r = await bare.get(f"{alice.creds.main}{CGI}webwxgetmedia", params=params)
        assert r.content == body
        params["webwx_data_ticket"] = "wrong"
        r = await bare.get(f"{alice.creds.main}{CGI}webwxgetmedia", params=params)
        assert r.json()["BaseResponse"]["Ret"] != 0


async def test_download_refused_for_wrong_type_or_unknown_id(alice):
    text_id, _ = await inject(alice, type="text", content="hello")
    r = await get(alice, "webwxgetmsgimg", MsgID=text_id, skey=alice.creds.skey)
    assert r.json()["BaseResponse"]["Ret"] != 0
    r = await get(alice, "webwxgetvoice", msgid="123", skey=alice.creds.skey)
    assert r.json()["BaseResponse"]["Ret"] != 0
    r = await get(alice, "webwxgetmsgimg", MsgID=text_id, skey="@crypt_0_0")
    assert r.json()["BaseResponse"]["Ret"] == 1101


async def test_avatars_are_deterministic_jpegs(alice):
    contacts = await alice.all_contacts()
    by_nick = {c["NickName"]: c for c in contacts}
    main = alice.creds.main
    carol = await alice.http.get(main + by_nick["Carol"]["HeadImgUrl"])  # as M does
    assert carol.status_code == 200 and carol.headers["content-type"] == "image/jpeg"
    assert "max-age" in carol.headers["cache-control"]
    assert decode(carol.content).size == (132, 132)
    again = await alice.http.get(main + by_nick["Carol"]["HeadImgUrl"])
    assert again.content == carol.content
    dave = await alice.http.get(main + by_nick["Dave 大卫"]["HeadImgUrl"])
    assert dave.content != carol.content
    group = by_nick["测试群"]
    assert "webwxgetheadimg" in group["HeadImgUrl"]
    head = await alice.http.get(main + group["HeadImgUrl"])
    assert decode(head.content).format == "JPEG"
    # itchat spells it userName; type=big is larger
    big = await get(alice, "webwxgeticon", userName=by_nick["Carol"]["UserName"],
                    skey=alice.creds.skey, type="big")  # fmt: skip
    assert decode(big.content).size[0] > 132
    me = await get(alice, "webwxgeticon", username=alice.creds.user["UserName"],
                   skey=alice.creds.skey)  # fmt: skip
    assert decode(me.content).format == "JPEG"
    unknown = await get(alice, "webwxgeticon", username="@" + "0" * 64, skey=alice.creds.skey)
    assert unknown.json()["BaseResponse"]["Ret"] != 0
