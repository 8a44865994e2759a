"""Text normalisation of web WeChat content and names (openwx_worker.text)."""

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openwx_worker.text import clean, emoji_chars, emoji_name


def span(code):
    return f'<span class="emoji emoji{code}"></span>'


def test_entities_are_unescaped():
    assert clean("a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#39;") == "a <b> & \"c\" 'd'"


@pytest.mark.parametrize("br", ["<br/>", "<br>", "<br />", "<BR/>"])
def test_line_breaks_become_newlines(br):
    assert clean(f"one{br}two") == "one\ntwo"


def test_typed_markup_stays_text():
    # A person who types "<br/>" sends it escaped; it must come back as typed.
    assert clean("&lt;br/&gt; and &lt;span&gt;") == "<br/> and <span>"
    assert clean("&amp;lt;") == "&lt;"


@pytest.mark.parametrize(
    ("code", "chars"),
    [
        ("1f604", "\U0001f604"),
        ("2600", "\u2600"),
        ("1f1e81f1f3", "\U0001f1e8\U0001f1f3"),
        ("3120e3", "1\ufe0f\u20e3"),
        ("2320e3", "#\ufe0f\u20e3"),
        ("1f468200d1f469200d1f467", "\U0001f468\u200d\U0001f469\u200d\U0001f467"),
        ("1F604", "\U0001f604"),
    ],
)
def test_emoji_spans_become_characters(code, chars):
    assert emoji_chars(code) == chars
    assert clean(f"hi{span(code)}!") == f"hi{chars}!"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("1f604", "[smiling face with open mouth and smiling eyes]"),
        ("1f1e81f1f3", "[flag CN]"),
        ("3120e3", "[keycap 1]"),
        ("1f468200d1f469200d1f467", "[man+woman+girl]"),
    ],
)
def test_emoji_to_text(code, text):
    assert clean(span(code), emoji_to_text=True) == text


def test_emoji_name_ignores_variation_selector():
    assert emoji_name("\u2764\ufe0f") == "heavy black heart"


def test_unknown_emoji_code_is_left_alone():
    assert emoji_chars("zz") is None
    assert emoji_chars("ffff0") is None
    assert clean(span("ffffff")) == span("ffffff")


def test_mention_space_becomes_normal_space():
    assert clean("@小灰\u2005你好") == "@小灰 你好"


def test_nickname_with_emoji_and_entity():
    assert clean(f"Tom &amp; Jerry{span('1f604')}") == "Tom & Jerry\U0001f604"


@given(st.text())
def test_clean_undoes_html_escaping(text):
    assert clean(html.escape(text)) == text.replace("\u2005", " ")


@given(st.text(alphabet=st.characters(blacklist_characters="<&\u2005")))
def test_plain_text_is_unchanged(text):
    assert clean(text) == text
