"""Message Content as the service writes it (web-protocol.md 7.6), before HTML escaping.

The protocol layer escapes these strings and adds the group prefix; here they are the plain
text or XML a real message of each kind carries.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import quoteattr

from wechat_sim.model import Message, Recommend, SentRecord


def sent_record(message: Message, kind: str, now: int) -> SentRecord:
    return SentRecord(
        to=message.to_wxid,
        type=kind,
        content=message.content,
        msg_id=str(message.msg_id),
        time=now,
        msg_type=message.msg_type,
    )


def conversation_sync(chats: list[str], now: int) -> str:
    """MsgType 51 / StatusNotifyCode 4: the recent chats by internal id."""
    unread = "".join(
        f"<chat><username>{c}</username><lastreadtime>{now}</lastreadtime></chat>" for c in chats
    )
    return (
        f"<msg><op id='4'><username>{','.join(chats)}</username>"
        f"<unreadchatlist>{unread}</unreadchatlist>"
        "<unreadfunctionlist></unreadfunctionlist></op></msg>"
    )


def image_xml(data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    return (
        f'<?xml version="1.0"?>\n<msg><img aeskey="{md5}" encryver="1" cdnthumbaeskey="{md5}" '
        f'cdnthumburl="30{md5}" cdnthumblength="{min(len(data), 4096)}" cdnthumbheight="120" '
        f'cdnthumbwidth="120" cdnmidimgurl="30{md5}" length="{len(data)}" md5="{md5}" />'
        "</msg>"
    )


def voice_xml(data: bytes, voice_ms: int, client_msg_id: str = "") -> str:
    return (
        '<msg><voicemsg endflag="1" cancelflag="0" forwardflag="0" voiceformat="4" '
        f'voicelength="{voice_ms}" length="{len(data)}" bufid="0" '
        f'clientmsgid="{client_msg_id}" fromusername="" /></msg>'
    )


def video_xml(data: bytes, seconds: int) -> str:
    md5 = hashlib.md5(data).hexdigest()
    return (
        f'<?xml version="1.0"?>\n<msg><videomsg aeskey="{md5}" cdnthumbaeskey="{md5}" '
        f'length="{len(data)}" playlength="{seconds}" md5="{md5}" /></msg>'
    )


def emoji_xml(from_wxid: str, to_wxid: str, data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    return (
        f'<msg><emoji fromusername="{from_wxid}" tousername="{to_wxid}" type="2" '
        f'idbuffer="media:0_0" md5="{md5}" len="{len(data)}" productid="" '
        f'cdnurl="http://emoji.qpic.cn/wx_emoji/{md5}/" thumburl="" encrypturl="" aeskey="" '
        'externurl="" externmd5="" width="240" height="210"></emoji>'
        '<gameext type="0" content="0"></gameext></msg>'
    )


def card_xml(r: Recommend, *, stranger_id: str) -> str:
    return (
        '<?xml version="1.0"?>\n<msg bigheadimgurl="" smallheadimgurl="" '
        f'username={quoteattr(stranger_id)} nickname={quoteattr(r.nickname)} shortpy="" '
        f'alias={quoteattr(r.alias)} imagestatus="3" scene="17" province={quoteattr(r.province)} '
        f'city={quoteattr(r.city)} sign="" sex="{r.sex}" certflag="0" certinfo="" '
        'brandIconUrl="" brandHomeUrl="" brandSubscriptConfigUrl="" '
        f'brandFlags="0" regionCode="CN" antispamticket={quoteattr(r.ticket)} />'
    )


def friend_request_xml(r: Recommend, *, stranger_id: str) -> str:
    return (
        f"<msg fromusername={quoteattr(r.wxid)} encryptusername={quoteattr(stranger_id)} "
        f"fromnickname={quoteattr(r.nickname)} content={quoteattr(r.content)} "
        f'shortpy="" imagestatus="3" scene="{r.scene}" country="" '
        f"province={quoteattr(r.province)} city={quoteattr(r.city)} "
        f'sign={quoteattr(r.signature)} percard="0" sex="{r.sex}" alias={quoteattr(r.alias)} '
        'weibo="" albumflag="0" bigheadimgurl="" smallheadimgurl="" '
        f'ticket={quoteattr(r.ticket)} opcode="2" googlecontact="" qrticket="" '
        'chatroomusername="" sourceusername="" sourcenickname="">'
        '<brandlist count="0" ver="0"></brandlist></msg>'
    )


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def app_xml(
    *,
    app_type: int,
    title: str,
    des: str = "",
    url: str = "",
    file_size: int = 0,
    attach_id: str = "",
    file_ext: str = "",
    from_wxid: str = "",
    app_name: str = "",
    extra: str = "",
) -> str:
    """MsgType 49: link (5), file (6), music (3), transfer (2000, `extra` = wcpayinfo) ..."""
    return (
        f'<msg><appmsg appid="" sdkver="0"><title>{_x(title)}</title><des>{_x(des)}</des>'
        f"<action></action><type>{app_type}</type><showtype>0</showtype><content></content>"
        f"<url>{_x(url)}</url><dataurl></dataurl><lowurl></lowurl><lowdataurl></lowdataurl>"
        "<recorditem><![CDATA[]]></recorditem><thumburl></thumburl><messageaction>"
        "</messageaction><extinfo></extinfo><sourceusername></sourceusername>"
        "<sourcedisplayname></sourcedisplayname><commenturl></commenturl>"
        f"<appattach><totallen>{file_size}</totallen><attachid>{attach_id}</attachid>"
        f"<emoticonmd5></emoticonmd5><fileext>{file_ext}</fileext><cdnattachurl></cdnattachurl>"
        "<aeskey></aeskey><encryver>1</encryver></appattach><md5></md5>"
        f"{extra}</appmsg>"
        f"<fromusername>{from_wxid}</fromusername><scene>0</scene><appinfo><version>1</version>"
        f"<appname>{_x(app_name)}</appname></appinfo><commenturl></commenturl></msg>"
    )


def wcpayinfo(amount: str, transfer_id: str, now: int) -> str:
    return (
        f"<wcpayinfo><paysubtype>1</paysubtype><feedesc>￥{amount}</feedesc>"
        f"<transcationid>{transfer_id}</transcationid><transferid>{transfer_id}</transferid>"
        f"<invalidtime>{now + 86400}</invalidtime><begintransfertime>{now}</begintransfertime>"
        "<effectivedate>1</effectivedate><pay_memo></pay_memo></wcpayinfo>"
    )


def location_ori(lat: float, lng: float, label: str) -> str:
    return (
        f'<?xml version="1.0"?>\n<msg>\n\t<location x="{lat}" y="{lng}" scale="16" '
        f'label={quoteattr(label)} maptype="0" poiname="[位置]" poiid="" />\n</msg>\n'
    )


def revoke_xml(chat_wxid: str, revoked_msg_id: int, replace: str) -> str:
    return (
        '<sysmsg type="revokemsg"><revokemsg>\n\t<session>'
        f"{chat_wxid}</session>\n\t<oldmsgid>{revoked_msg_id & 0xFFFFFFFF}</oldmsgid>\n\t"
        f"<msgid>{revoked_msg_id}</msgid>\n\t<replacemsg><![CDATA[{replace}]]></replacemsg>\n"
        "</revokemsg></sysmsg>"
    )
