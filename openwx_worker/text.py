"""Turn web WeChat's marked-up text back into what people wrote.

Web WeChat delivers message ``Content`` and contact names (``NickName``,
``RemarkName``, ``DisplayName``) HTML-escaped, with ``<br/>`` for line breaks and
every emoji as ``<span class="emoji emoji1f604"></span>`` (web-protocol.md 5, 7.6).
Openwx reports carry the plain text (reference C.2 ``content``), so every message
content and every contact name goes through ``clean`` once, when it enters the
worker.

Emoji become the real characters, or ``[name]`` text when ``emoji_to_text`` is on
(Mojo::Weixin's option of that name). The names are the Unicode character names,
lower-cased (``[grinning face with smiling eyes]``), with short forms for flags
(``[flag CN]``) and keycaps (``[keycap 1]``).
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

__all__ = ["clean", "emoji_chars", "emoji_name"]

_EMOJI_SPAN = re.compile(r'<span class="emoji emoji([0-9a-fA-F]+)"\s*></span>')
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_FOUR_PER_EM_SPACE = "\u2005"

_VS16 = 0xFE0F
_ZWJ = 0x200D
_KEYCAP = 0x20E3
_REGIONAL_A = 0x1F1E6
_REGIONAL_Z = 0x1F1FF
# Keycap bases WeChat writes with two hex digits ("emoji3120e3" is 1️⃣).
_KEYCAP_BASES = frozenset(b"#*0123456789")


def clean(text: str, *, emoji_to_text: bool = False) -> str:
    """Plain text from web WeChat markup.

    ``<br/>`` becomes a newline, emoji spans become characters (or ``[name]``),
    HTML entities are unescaped, and the four-per-em space WeChat puts after an
    ``@name`` mention becomes a normal space. Markup is replaced before entities are
    unescaped, so text a person typed as ``<br/>`` (sent as ``&lt;br/&gt;``) stays.
    """
    if "<" in text:
        text = _EMOJI_SPAN.sub(_emoji_text if emoji_to_text else _emoji_char, text)
        text = _BREAK.sub("\n", text)
    if "&" in text:
        text = html.unescape(text)
    return text.replace(_FOUR_PER_EM_SPACE, " ")


def emoji_chars(code: str) -> str | None:
    """The characters for a WeChat emoji code such as ``1f604`` or ``1f1e81f1f3``.

    The code is the code points' hex digits run together (5 digits for planes 1+,
    4 for the BMP, 2 for a keycap base). Returns None if it does not split into
    named code points.
    """
    points = _split_code(code.lower())
    if points is None:
        return None
    if points[-1] == _KEYCAP and len(points) == 2:
        points = (points[0], _VS16, _KEYCAP)
    return "".join(map(chr, points))


def emoji_name(chars: str) -> str:
    """A short readable name for an emoji (without brackets)."""
    points = [ord(c) for c in chars if ord(c) != _VS16]
    if points and all(_REGIONAL_A <= p <= _REGIONAL_Z for p in points):
        return "flag " + "".join(chr(ord("A") + p - _REGIONAL_A) for p in points)
    if len(points) == 2 and points[1] == _KEYCAP:
        return "keycap " + chr(points[0])
    names = [unicodedata.name(chr(p), "").lower() for p in points if p != _ZWJ]
    return "+".join(n for n in names if n) or "emoji"


def _emoji_char(match: re.Match[str]) -> str:
    chars = emoji_chars(match.group(1))
    return match.group(0) if chars is None else chars


def _emoji_text(match: re.Match[str]) -> str:
    chars = emoji_chars(match.group(1))
    return match.group(0) if chars is None else f"[{emoji_name(chars)}]"


@lru_cache(maxsize=1024)
def _split_code(code: str) -> tuple[int, ...] | None:
    """Split run-together hex into code points, backtracking over the widths."""
    if not code:
        return ()
    for width in (5, 4, 2):
        if len(code) < width:
            continue
        head = code[:width]
        if width == 5 and head[0] != "1":
            continue
        try:
            point = int(head, 16)
        except ValueError:
            return None
        if width == 2 and point not in _KEYCAP_BASES:
            continue
        if width != 2 and not unicodedata.name(chr(point), ""):
            continue
        rest = _split_code(code[width:])
        if rest is not None:
            return (point, *rest)
    return None
