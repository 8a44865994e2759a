"""ContactBook: order, look-ups (reference 0.1, H.5 fix) and change events (C.3)."""

import json

import msgspec
import pytest

from openwx_worker.contacts import (
    ContactBook,
    diff_friends,
    diff_groups,
    diff_user,
    is_group_id,
)
from openwx_worker.models import (
    UNSET,
    Event,
    encode,
    make_friend,
    make_group,
    make_member,
    make_user,
)

ME = "@me"


def names(events: list[Event]) -> list[str]:
    return [e.event for e in events]


def user(**kw):
    return make_user(id=ME, uid=42, name="我", **kw)


@pytest.fixture
def book():
    book = ContactBook()
    friends = [
        make_friend(id="@a", name="Alice", markname="A", account="alice", city="深圳"),
        make_friend(id="@b", name="Bob", city="深圳"),
        make_friend(id="@c", name="bob", city="北京"),
        make_friend(id="@b2", name="Bob", city="上海"),
        make_friend(id="@gh", name="公众号X", verify_flag=8),
    ]
    groups = [
        make_group(
            id="@@g1",
            name="",
            members=[
                make_member(id=ME, nickname="我"),
                make_member(id="@a", nickname="Alice", display="阿丽"),
                make_member(id="@m1", nickname="M1"),
                make_member(id="@m2", nickname="M2"),
                make_member(id="@m3", nickname="M3"),
            ],
        ),
        make_group(id="@@g2", name="Team", members=[make_member(id="@b", nickname="Bob")]),
        make_group(id="123@chatroom", name="Team"),
    ]
    events = book.replace_all(user(), friends, groups)
    assert names(events) == ["new_friend"]  # the synthesized filehelper
    return book


# ------------------------------------------------------------------ order and indexes


def test_friends_keep_contact_order_with_filehelper_appended(book):
    assert [f.id for f in book.friends] == ["@a", "@b", "@c", "@b2", "@gh", "filehelper"]
    assert book.friend("filehelper").category == "系统帐号"


def test_filehelper_from_wechat_keeps_its_place_and_makes_no_event():
    book = ContactBook()
    helper = make_friend(id="filehelper", name="文件传输助手")
    events = book.replace_all(user(), [helper, make_friend(id="@x")], [])
    assert events == []
    assert [f.id for f in book.friends] == ["filehelper", "@x"]


def test_groups_keep_wechat_order_and_index_members(book):
    assert [g.id for g in book.groups] == ["@@g1", "@@g2", "123@chatroom"]
    assert book.member("@@g1", "@m1").displayname == "M1"
    assert book.member("@@g1", "@nope") is None
    assert book.member("@@nope", "@m1") is None


def test_group_displayname_computed_for_this_user(book):
    # Group made without self_id: the book fills the displayname, skipping yourself.
    assert book.group("@@g1").displayname == "阿丽、M1、M2"
    assert book.group("@@g2").displayname == "Team"


def test_contact_resolves_user_friend_group(book):
    assert book.contact(ME) is book.user
    assert book.contact("@a").name == "Alice"
    assert book.contact("@@g2").name == "Team"
    assert book.contact("123@chatroom").name == "Team"
    assert book.contact("@zzz") is None
    assert is_group_id("123@chatroom") and not is_group_id("@a")


# ------------------------------------------------------------------ look-ups


def test_no_criteria_matches_nothing(book):
    assert book.find_friends() == []
    assert book.first_friend() is None
    assert book.find_groups() == []


def test_absent_criteria_are_dropped(book):
    assert [f.id for f in book.find_friends(id="@a", account=None, markname=None)] == ["@a"]
    assert book.find_friends(id=None, displayname=None) == []


def test_criteria_are_anded(book):
    assert [f.id for f in book.find_friends(name="Bob", city="深圳")] == ["@b"]
    assert book.find_friends(id="@a", markname="wrong") == []
    assert book.find_friends(id="@a", markname="A")[0].id == "@a"


def test_matching_is_exact_and_case_sensitive(book):
    assert [f.id for f in book.find_friends(name="bob")] == ["@c"]
    assert book.find_friends(name="Bo") == []
    assert book.find_friends(name=" Bob") == []


def test_empty_string_matches_empty_and_absent_attributes(book):
    # Perl's eq: "" equals "" and undef; the filehelper friend has no markname at all.
    found = [f.id for f in book.find_friends(markname="")]
    assert found == ["@b", "@c", "@b2", "@gh", "filehelper"]


def test_first_match_in_list_order_for_single_target(book):
    assert book.first_friend(name="Bob").id == "@b"
    assert [f.id for f in book.find_friends(name="Bob")] == ["@b", "@b2"]


def test_displayname_and_category_are_searchable(book):
    assert book.first_friend(displayname="A").id == "@a"
    assert [f.id for f in book.find_friends(category="公众号")] == ["@gh"]


def test_unknown_criteria_are_ignored_not_fatal(book):
    # H.5: Mojo::Weixin answered 500 for datatype/callback/client or any unknown key.
    found = book.find_friends(id="@a", datatype="jsonp", callback="cb", client="x")
    assert [f.id for f in found] == ["@a"]
    assert book.find_friends(datatype="jsonp") == []


def test_repeated_key_list_never_matches(book):
    assert book.find_friends(id=["@a", "@a"]) == []


def test_numbers_compare_as_text():
    book = ContactBook()
    book.replace_all(user(), [], [make_group(id="@@g", owner_uid=7)])
    assert book.first_group(owner_uid="7").id == "@@g"
    assert book.first_group(uid="").id == "@@g"


def test_group_lookups_ignore_member_key(book):
    assert [g.id for g in book.find_groups(name="Team")] == ["@@g2", "123@chatroom"]
    assert [g.id for g in book.find_groups(displayname="Team", member="x")] == [
        "@@g2",
        "123@chatroom",
    ]
    assert book.first_group(id="@@g1", displayname="阿丽、M1、M2").id == "@@g1"
    assert book.find_groups(member="x") == []


def test_member_lookups(book):
    assert [(g.id, m.id) for g, m in book.find_members(markname="Bob")] == [("@@g2", "@b")]
    assert book.first_member("@@g1", id="@a")[1].display == "阿丽"
    assert book.first_member("@@g2", id="@a") is None
    assert book.first_member("@@nope", id="@a") is None
    assert book.find_members() == []


def test_lookup_by_id_among_5000_friends():
    book = ContactBook()
    friends = [make_friend(id=f"@{i:032x}", name=f"n{i}") for i in range(5000)]
    book.replace_all(user(), friends, [])
    assert book.first_friend(id=f"@{4999:032x}").name == "n4999"
    assert book.first_friend(name="n4998").id == f"@{4998:032x}"


# ------------------------------------------------------------------ single changes


def test_update_friend_new_and_property_change(book):
    events = book.update_friend(make_friend(id="@new", name="New"))
    assert names(events) == ["new_friend"]
    assert book.friends[-1].id == "@new"

    events = book.update_friend(make_friend(id="@a", name="Alice", markname="AA", city="深圳"))
    assert [(e.event, *e.params[1:]) for e in events] == [
        ("friend_property_change", "account", "alice", ""),
        ("friend_property_change", "markname", "A", "AA"),
    ]
    assert events[1].params[0].displayname == "AA"
    assert book.friend("@a").displayname == "AA"
    assert [f.id for f in book.friends][0] == "@a"  # position kept


def test_update_friend_keeps_attributes_the_new_record_lacks(book):
    partial = msgspec.structs.replace(book.friend("@a"), account=UNSET, markname="B")
    events = book.update_friend(partial)
    assert [e.params[1] for e in events] == ["markname"]
    assert book.friend("@a").account == "alice"


def test_remove_friend(book):
    assert names(book.remove_friend("@b")) == ["lose_friend"]
    assert book.friend("@b") is None
    assert book.remove_friend("@b") == []


def test_update_group_new_and_changes(book):
    events = book.update_group(make_group(id="@@g3", members=[make_member(id="@x", nickname="X")]))
    assert names(events) == ["new_group"]
    assert events[0].params[0].displayname == "X"

    renamed = make_group(
        id="@@g2",
        name="Team2",
        members=[make_member(id="@b", nickname="Bobby"), make_member(id="@n", nickname="N")],
    )
    events = book.update_group(renamed)
    assert names(events) == [
        "group_property_change",
        "group_member_property_change",
        "group_member_property_change",
        "new_group_member",
    ]
    assert events[0].params[1:] == ["name", "Team", "Team2"]
    assert events[1].params[1:] == ["markname", "Bob", "Bobby"]
    member, group = events[3].params
    assert member.id == "@n" and group.id == "@@g2" and len(group.member) == 2


def test_update_group_without_members_keeps_them(book):
    events = book.update_group(make_group(id="@@g1", name="Named").without_members())
    assert names(events) == ["group_property_change"]
    assert len(book.group("@@g1").member) == 5
    assert book.group("@@g1").displayname == "Named"


def test_lose_group_member_through_group_update(book):
    g1 = book.group("@@g1")
    shrunk = msgspec.structs.replace(g1, member=g1.member[:2])
    events = book.update_group(shrunk)
    assert names(events) == ["lose_group_member"] * 3
    assert [e.params[0].id for e in events] == ["@m1", "@m2", "@m3"]
    assert book.group("@@g1").displayname == "阿丽"


def test_remove_group(book):
    events = book.remove_group("@@g1")
    assert names(events) == ["lose_group"]
    assert len(events[0].params[0].member) == 5  # lose_group carries members (C.3)
    assert book.group("@@g1") is None and book.member("@@g1", "@m1") is None
    assert book.remove_group("@@g1") == []


def test_update_and_remove_member(book):
    events = book.update_member("@@g2", make_member(id="@z", nickname="Z"))
    assert names(events) == ["new_group_member"]
    assert events[0].params[1].member[-1].id == "@z"
    assert book.member("@@g2", "@z").markname == "Z"

    events = book.update_member("@@g2", make_member(id="@z", nickname="Z", display="card"))
    assert [(e.event, *e.params[1:]) for e in events] == [
        ("group_member_property_change", "display", "", "card")
    ]

    events = book.remove_member("@@g2", "@z")
    assert names(events) == ["lose_group_member"]
    member, group = events[0].params
    assert member.id == "@z" and [m.id for m in group.member] == ["@b"]
    assert book.remove_member("@@g2", "@z") == []
    assert book.update_member("@@nope", make_member(id="@z")) == []


def test_member_update_keeps_full_record(book):
    full = make_member(
        id="@m1", nickname="M1", account="m1acct", sex=1, province="广东", city="深圳",
        signature="sig",
    )  # fmt: skip
    book.update_member("@@g1", full)
    # A brief MemberList record (no account) carries blanks, not changes.
    events = book.update_member("@@g1", make_member(id="@m1", nickname="M1"))
    assert events == []
    kept = book.member("@@g1", "@m1")
    assert (kept.account, kept.sex, kept.province, kept.city, kept.signature) == (
        "m1acct", "male", "广东", "深圳", "sig",
    )  # fmt: skip
    g1 = book.group("@@g1")
    brief = [make_member(id=m.id, nickname=m.markname, display=m.display) for m in g1.member]
    assert book.update_group(msgspec.structs.replace(g1, member=tuple(brief))) == []
    assert book.member("@@g1", "@m1").signature == "sig"
    # A full record does replace the details.
    events = book.update_member("@@g1", msgspec.structs.replace(full, city="广州"))
    assert [e.params[1:] for e in events] == [["city", "深圳", "广州"]]


def test_member_change_renames_unnamed_group(book):
    book.update_member("@@g1", make_member(id="@a", nickname="Alice"))
    assert book.group("@@g1").displayname == "Alice、M1、M2"


def test_update_user_reports_property_changes(book):
    events = book.update_user(user(signature="new sig"))
    assert [(e.event, *e.params[1:]) for e in events] == [
        ("user_property_change", "signature", "", "new sig")
    ]
    assert book.user.signature == "new sig"


# ------------------------------------------------------------------ bulk


def test_replace_all_makes_no_diff_events(book):
    events = book.replace_all(
        make_user(id="@me2", uid=42), [make_friend(id="@q")], [make_group(id="@@q")]
    )
    assert names(events) == ["new_friend"]  # filehelper again, as Mojo::Weixin does
    assert [f.id for f in book.friends] == ["@q", "filehelper"]
    assert book.group("@@g1") is None


def test_refresh_reports_differences_and_adopts_new_order(book):
    friends = [book.friend("@b2"), book.friend("@a"), make_friend(id="@new", name="N")]
    groups = [book.group("@@g2"), make_group(id="@@g9", name="G9")]
    events = book.refresh(user(), friends, groups)
    assert names(events) == [
        "new_friend",
        "lose_friend",
        "lose_friend",
        "lose_friend",
        "new_group",
        "lose_group",
        "lose_group",
    ]
    assert [f.id for f in book.friends] == ["@b2", "@a", "@new", "filehelper"]
    assert [g.id for g in book.groups] == ["@@g2", "@@g9"]


def test_event_json_of_member_event(book):
    events = book.remove_member("@@g1", "@m2")
    got = json.loads(encode(events[0]))
    assert got["post_type"] == "event" and got["event"] == "lose_group_member"
    member, group = got["params"]
    assert member["id"] == "@m2" and group["id"] == "@@g1"
    assert "@m2" not in [m["id"] for m in group["member"]]


# ------------------------------------------------------------------ pure diffs


def test_diff_functions_are_pure():
    a = make_friend(id="@a", name="A")
    b = make_friend(id="@b", name="B")
    assert names(diff_friends([a], [a, b])) == ["new_friend"]
    assert names(diff_friends([a, b], [b])) == ["lose_friend"]
    assert diff_friends([a], [a]) == []
    g = make_group(id="@@g", name="x")
    assert names(diff_groups([], [g])) == ["new_group"]
    assert names(diff_groups([g], [])) == ["lose_group"]
    assert diff_user(None, user()) == []
    assert diff_user(user(), make_user(id="@other", uid=1)) == []
    assert names(diff_user(user(), user(city="深圳"))) == ["user_property_change"]


def test_property_change_from_absent_reports_null():
    before = make_member(id="@m", nickname="n")
    after = make_member(id="@m", nickname="n", account="acct")
    g_before = make_group(id="@@g", members=[before])
    g_after = make_group(id="@@g", members=[after])
    events = diff_groups([g_before], [g_after])
    assert [e.params[1:] for e in events] == [["account", None, "acct"]]
    assert json.loads(encode(events[0]))["params"][2] is None
