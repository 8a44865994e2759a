"""Chunked webwxuploadmedia and the media sends (web-protocol.md 8.3, 8.4), with requests
built as the reference describes them: multipart fields in the official order, the
`uploadmediarequest` JSON, 512 KiB chunks, then webwxsendmsgimg / webwxsendvideomsg /
webwxsendemoticon / webwxsendappmsg with the MediaId.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import time

from PIL import Image
from sim_webclient import ALICE, BOB, CGI, WebClient, redirect_of

CHUNK = 524288


def jpeg_bytes(size=(200, 150), color=(10, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def gif_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (40, 40), 3).save(buf, format="GIF")
    return buf.getvalue()


def mp4_bytes(n: int = 300_000) -> bytes:
    return b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + random.randbytes(n)


def cid() -> str:
    return str(int(time.time() * 1000)) + str(random.randrange(1000, 9999))


async def upload(web: WebClient, data: bytes, name: str, mime: str, mediatype: str, *,
                 to: str = "filehelper", chunk_size: int = CHUNK, md5: str | None = None,
                 ticket: str | None = None, order=None, host: str | None = None,
                 client_media_id: int | str | None = None) -> list[dict]:  # fmt: skip
    """Every chunk's answer, oldest first."""
    c = web.creds
    me = c.user["UserName"]
    umr = {
        "UploadType": 2, "BaseRequest": web.base_request(), "ClientMediaId": client_media_id or cid(),
        "TotalLen": len(data), "StartPos": 0, "DataLen": len(data), "MediaType": 4,
        "FromUserName": me, "ToUserName": to,
        "FileMd5": hashlib.md5(data).hexdigest() if md5 is None else md5,
    }  # fmt: skip
    chunks = max(1, math.ceil(len(data) / chunk_size))
    answers = []
    for i in order or range(chunks):
        fields = {
            "id": "WU_FILE_0", "name": name, "type": mime,
            "lastModifiedDate": "Sat Jun 23 2018 16:45:07 GMT+0800 (中国标准时间)",
            "size": str(len(data)),
        }  # fmt: skip
        if chunks > 1:
            fields.update(chunks=str(chunks), chunk=str(i))
        fields.update(
            mediatype=mediatype,
            uploadmediarequest=json.dumps(umr, separators=(",", ":")),
            webwx_data_ticket=ticket if ticket is not None else web.http.cookies["webwx_data_ticket"],
            pass_ticket="undefined",
        )  # fmt: skip
        part = data[i * chunk_size : (i + 1) * chunk_size]
        r = await web.http.post(
            f"{host or c.main}{CGI}webwxuploadmedia?f=json", data=fields,
            files={"filename": (name, part, "application/octet-stream")},
        )  # fmt: skip
        assert r.status_code == 200
        answers.append(r.json())
    return answers


async def send_media(web: WebClient, endpoint: str, msg: dict, **params) -> dict:
    c = cid()
    body = {
        "BaseRequest": web.base_request(),
        "Msg": {"FromUserName": web.creds.user["UserName"], "LocalID": c, "ClientMsgId": c, **msg},
        "Scene": 0,
    }
    return await web.post(endpoint, body, **params)


def file_appmsg(name: str, size: int, media_id: str) -> str:
    ext = name.rsplit(".", 1)[-1]
    return (
        f"<appmsg appid='wxeb7ec651dd0aefa9' sdkver=''><title>{name}</title><des></des><action>"
        f"</action><type>6</type><content></content><url></url><lowurl></lowurl><appattach>"
        f"<totallen>{size}</totallen><attachid>{media_id}</attachid><fileext>{ext}</fileext>"
        "</appattach><extinfo></extinfo></appmsg>"
    )


async def sent(web) -> list[dict]:
    return (await web.control("GET", f"/sim/accounts/{ALICE}/sent")).json()


async def echoed(web, msg_id: str) -> dict:
    data = await web.sync()
    found = [m for m in data["AddMsgList"] if m["MsgId"] == msg_id]
    assert found, data["AddMsgList"]
    return found[0]


async def test_single_chunk_upload_answer(alice):
    data = jpeg_bytes()
    # itchat: ClientMediaId is a number (int(time * 1e4)), no chunks/chunk fields
    [answer] = await upload(
        alice, data, "photo.jpg", "image/jpeg", "pic", client_media_id=int(time.time() * 1e4)
    )
    assert answer["BaseResponse"]["Ret"] == 0
    assert re.fullmatch(r"@crypt_[0-9a-f]{8}_[0-9a-f]{200,}", answer["MediaId"])
    assert answer["StartPos"] == len(data)
    assert (answer["CDNThumbImgWidth"], answer["CDNThumbImgHeight"]) == (120, 90)
    assert answer["EncryFileName"] == "photo%2Ejpg"


async def test_chunked_upload_then_file_send_and_download(alice, sim):
    sim.world.config.echo_sent = True
    data = random.randbytes(CHUNK * 2 + 1000)
    answers = await upload(alice, data, "report.bin", "application/octet-stream", "doc")
    assert len(answers) == 3
    assert [a["MediaId"] for a in answers[:2]] == ["", ""]
    assert [a["StartPos"] for a in answers] == [CHUNK, 2 * CHUNK, len(data)]
    media_id = answers[-1]["MediaId"]
    assert media_id
    answer = await send_media(
        alice, "webwxsendappmsg",
        {"Type": 6, "Content": file_appmsg("report.bin", len(data), media_id),
         "ToUserName": "filehelper"},
        fun="async", f="json",
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] == 0 and answer["MsgID"].isdigit()
    [record] = await sent(alice)
    assert record["to"] == "filehelper" and record["type"] == "file"
    assert record["msg_id"] == answer["MsgID"]
    assert record["media"]["md5"] == hashlib.md5(data).hexdigest()
    assert record["media"]["size"] == len(data) and record["media"]["file_name"] == "report.bin"
    msg = await echoed(alice, answer["MsgID"])
    assert (msg["MsgType"], msg["AppMsgType"], msg["FileName"]) == (49, 6, "report.bin")
    assert msg["MediaId"] == media_id and msg["FileSize"] == str(len(data))
    assert f"&lt;attachid&gt;{media_id}&lt;/attachid&gt;" in msg["Content"]
    r = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetmedia",
        params={
            "sender": msg["FromUserName"],
            "mediaid": media_id,
            "filename": "report.bin",
            "fromuser": alice.creds.uin,
            "pass_ticket": "undefined",
            "webwx_data_ticket": alice.http.cookies["webwx_data_ticket"],
        },  # fmt: skip
    )
    assert r.status_code == 200 and r.content == data
    assert "report.bin" in r.headers["content-disposition"]
    raw = await alice.control("GET", f"/sim/accounts/{ALICE}/sent/{answer['MsgID']}/media")
    assert raw.content == data


async def test_image_send_echo_and_download(alice, sim):
    sim.world.config.echo_sent = True
    data = jpeg_bytes((300, 200))
    [up] = await upload(alice, data, "a.jpg", "image/jpeg", "pic")
    answer = await send_media(
        alice, "webwxsendmsgimg",
        {"Type": 3, "MediaId": up["MediaId"], "Content": "", "ToUserName": "filehelper"},
        fun="async", f="json",
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] == 0
    msg = await echoed(alice, answer["MsgID"])
    assert msg["MsgType"] == 3 and msg["FromUserName"] == alice.creds.user["UserName"]
    assert (msg["ImgWidth"], msg["ImgHeight"]) == (300, 200)
    r = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetmsgimg?&MsgID={answer['MsgID']}&skey={alice.creds.skey}"
    )
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    [record] = await sent(alice)
    assert record["type"] == "image" and record["media"]["size"] == len(data)
    assert record["media"]["file_name"] == "a.jpg" and record["media"]["mime"] == "image/jpeg"


async def test_video_send(alice, sim):
    sim.world.config.echo_sent = True
    data = mp4_bytes()
    [up] = await upload(alice, data, "v.mp4", "video/mp4", "video")
    answer = await send_media(
        alice, "webwxsendvideomsg",
        {"Type": 43, "MediaId": up["MediaId"], "ToUserName": "filehelper"},
        fun="async", f="json",
    )  # fmt: skip
    assert answer["BaseResponse"]["Ret"] == 0
    msg = await echoed(alice, answer["MsgID"])
    assert msg["MsgType"] == 43 and msg["PlayLength"] >= 1
    r = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetvideo",
        params={"msgid": answer["MsgID"], "skey": alice.creds.skey},
        headers={"Range": "bytes=0-"},
    )
    assert r.status_code == 206 and r.content == data
    [record] = await sent(alice)
    assert record["type"] == "video" and record["media"]["md5"] == hashlib.md5(data).hexdigest()


async def test_emoticon_by_media_id_and_by_md5(alice, sim):
    sim.world.config.echo_sent = True
    data = gif_bytes()
    [up] = await upload(alice, data, "s.gif", "image/gif", "doc")
    first = await send_media(
        alice, "webwxsendemoticon",
        {"Type": 47, "EmojiFlag": 2, "MediaId": up["MediaId"], "ToUserName": "filehelper"},
        fun="sys",
    )  # fmt: skip
    assert first["BaseResponse"]["Ret"] == 0
    msg = await echoed(alice, first["MsgID"])
    assert msg["MsgType"] == 47 and hashlib.md5(data).hexdigest() in msg["Content"]
    again = await send_media(
        alice, "webwxsendemoticon",
        {"Type": 47, "EmojiFlag": 2, "EMoticonMd5": hashlib.md5(data).hexdigest(),
         "ToUserName": "filehelper"},
        fun="sys",
    )  # fmt: skip
    assert again["BaseResponse"]["Ret"] == 0
    r = await alice.http.get(
        f"{alice.creds.main}{CGI}webwxgetmsgimg",
        params={"MsgID": again["MsgID"], "skey": alice.creds.skey, "type": "big"},
    )
    assert r.content == data and r.headers["content-type"] == "image/gif"
    assert [s["type"] for s in await sent(alice)] == ["emoji", "emoji"]
    unknown = await send_media(
        alice, "webwxsendemoticon",
        {"Type": 47, "EmojiFlag": 2, "EMoticonMd5": "0" * 32, "ToUserName": "filehelper"},
    )  # fmt: skip
    assert unknown["BaseResponse"]["Ret"] != 0


async def test_media_sent_to_another_simulated_account_arrives_downloadable(alice, sim, http):
    import httpx

    async with httpx.AsyncClient(timeout=60) as bob_http:
        bob = await WebClient(bob_http, sim.base_url).log_in(BOB)
        contacts = {c["NickName"]: c["UserName"] for c in await alice.all_contacts()}
        data = jpeg_bytes((64, 48), (200, 10, 10))
        [up] = await upload(alice, data, "x.jpg", "image/jpeg", "pic", to=contacts["Bob"])
        answer = await send_media(
            alice, "webwxsendmsgimg",
            {"Type": 3, "MediaId": up["MediaId"], "ToUserName": contacts["Bob"]},
        )  # fmt: skip
        assert answer["BaseResponse"]["Ret"] == 0
        got = [m for m in (await bob.sync())["AddMsgList"] if m["MsgType"] == 3]
        assert len(got) == 1
        r = await bob_http.get(
            f"{bob.creds.main}{CGI}webwxgetmsgimg",
            params={"MsgID": got[0]["MsgId"], "skey": bob.creds.skey},
        )
        assert r.content == data


# -- what the service refuses (strict 10) -------------------------------------------------


async def test_chunks_out_of_order_are_refused(alice):
    data = random.randbytes(CHUNK + 10)
    answers = await upload(alice, data, "f.bin", "application/octet-stream", "doc", order=[1, 0])
    assert answers[0]["BaseResponse"]["Ret"] != 0


async def test_wrong_data_ticket_or_md5_or_size_is_refused(alice):
    data = jpeg_bytes()
    [bad_ticket] = await upload(alice, data, "a.jpg", "image/jpeg", "pic", ticket="nope")
    assert bad_ticket["BaseResponse"]["Ret"] != 0 and not bad_ticket.get("MediaId")
    [bad_md5] = await upload(alice, data, "a.jpg", "image/jpeg", "pic", md5="0" * 32)
    assert bad_md5["BaseResponse"]["Ret"] != 0
    [no_md5] = await upload(alice, data, "a.jpg", "image/jpeg", "pic", md5="")  # W omits it
    assert no_md5["BaseResponse"]["Ret"] == 0


async def test_media_id_only_from_this_sessions_upload(alice, sim, http):
    [up] = await upload(alice, jpeg_bytes(), "a.jpg", "image/jpeg", "pic")
    forged = await send_media(
        alice, "webwxsendmsgimg",
        {"Type": 3, "MediaId": up["MediaId"] + "00", "ToUserName": "filehelper"},
    )  # fmt: skip
    assert forged["BaseResponse"]["Ret"] != 0
    await alice.qr_login(ALICE)  # a new session: the old upload is not its own
    await alice.init()
    stale = await send_media(
        alice, "webwxsendmsgimg",
        {"Type": 3, "MediaId": up["MediaId"], "ToUserName": "filehelper"},
    )  # fmt: skip
    assert stale["BaseResponse"]["Ret"] != 0
    assert await sent(alice) == []


async def test_upload_is_served_on_the_file_host_only(alice, sim, http):
    r = await http.post(
        f"{sim.base_url}{CGI}webwxuploadmedia?f=json",
        headers={"Host": "wx.qq.com"}, files={"filename": ("a", b"x")},
    )  # fmt: skip
    assert r.status_code == 404


async def test_named_hosts_upload_on_file_host_send_on_main(sim):
    """Through the sim as an HTTP proxy with real host names: the upload and the attachment
    download go to file.wx2.qq.com, the sends to wx2.qq.com; cookies scoped like the real
    service's identify the session on the file host (12.5)."""
    import httpx

    sim.world.accounts[BOB].main_host = "wx2.qq.com"
    async with httpx.AsyncClient(proxy=sim.base_url, timeout=60) as proxied:
        web = WebClient(proxied, "http://login.wx.qq.com")
        uuid = await web.jslogin()
        await web.control("POST", f"/sim/logins/{uuid}/scan", {"account": BOB})
        await web.control("POST", f"/sim/logins/{uuid}/confirm")
        await web.poll(uuid)
        code, body = await web.poll(uuid, tip=0)
        web.take_xml(await web.exchange(redirect_of(body)))
        await web.init()
        data = random.randbytes(CHUNK + 5)
        file_host = "http://file.wx2.qq.com"
        wrong = await proxied.post(
            f"http://wx2.qq.com{CGI}webwxuploadmedia?f=json", files={"filename": ("a", b"x")}
        )
        assert wrong.status_code == 404  # uploads only on the file host
        answers = await upload(web, data, "a.bin", "application/octet-stream", "doc",
                               host=file_host)  # fmt: skip
        media_id = answers[-1]["MediaId"]
        sent = await send_media(
            web, "webwxsendappmsg",
            {"Type": 6, "Content": file_appmsg("a.bin", len(data), media_id),
             "ToUserName": "filehelper"},
        )  # fmt: skip
        assert sent["BaseResponse"]["Ret"] == 0
        r = await proxied.get(
            f"{file_host}{CGI}webwxgetmedia",
            params={
                "sender": "filehelper",
                "mediaid": media_id,
                "filename": "a.bin",
                "fromuser": web.creds.uin,
                "pass_ticket": "undefined",
            },  # fmt: skip
        )
        assert r.content == data
        on_main = await proxied.get(
            f"http://wx2.qq.com{CGI}webwxgetmedia", params={"mediaid": media_id}
        )
        assert on_main.status_code == 404
