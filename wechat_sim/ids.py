"""Identifier formats of web-protocol.md section 12.1, drawn from one `random.Random`.

Taking the generator as an argument keeps a seeded world reproducible.
"""

from __future__ import annotations

import base64
import random
import string

_B64 = string.ascii_letters + string.digits + "+/"
_URLSAFE = string.ascii_letters + string.digits + "-_"
_LOWER_ALNUM = string.ascii_lowercase + string.digits


def _pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def uuid(rng: random.Random) -> str:
    return _pick(rng, _URLSAFE, 10) + "=="


def ticket(rng: random.Random) -> str:
    return "A" + _pick(rng, _URLSAFE, 23) + "@qrticket_0"


def uin(rng: random.Random) -> int:
    return rng.randrange(100_000_000, 4_000_000_000)


def sid(rng: random.Random) -> str:
    return _pick(rng, _B64, 16)


def skey(rng: random.Random) -> str:
    return f"@crypt_{_hex(rng, 8)}_{_hex(rng, 32)}"


def pass_ticket(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(32)).decode()


def data_ticket(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(18)).decode()


def uvid(rng: random.Random) -> str:
    return _hex(rng, 96)


def auth_ticket(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(60)).decode()


def self_username(rng: random.Random) -> str:
    return "@" + _hex(rng, 32)


def username(rng: random.Random) -> str:
    return "@" + _hex(rng, 64)


def group_username(rng: random.Random) -> str:
    return "@@" + _hex(rng, 64)


def encry_chatroom_id(rng: random.Random) -> str:
    return "@" + _hex(rng, 32)


def wxid(rng: random.Random) -> str:
    return "wxid_" + _pick(rng, _LOWER_ALNUM, 14)


def chatroom(rng: random.Random) -> str:
    return f"{rng.randrange(10**9, 10**10)}@chatroom"


def official(rng: random.Random) -> str:
    return "gh_" + _hex(rng, 12)


def media_id(rng: random.Random) -> str:
    return f"@crypt_{_hex(rng, 8)}_{_hex(rng, 256)}"


def stranger_ticket(rng: random.Random) -> str:
    return "v2_" + _hex(rng, 48) + "@stranger"
