"""ContactBook: the account's user, friends and groups, with look-ups and change events.

One ``ContactBook`` per account, owned by the client. It keeps

* the user;
* friends in contact-list order, with 文件传输助手 (filehelper) appended when the
  contact list lacks it, as Mojo::Weixin does;
* groups in the order WeChat returned them, each with its members;

indexed by id (dicts keep the order, so look-up, replace and remove by id are O(1)).

Look-ups follow reference 0.1: criteria whose value is None are dropped, criteria
that are not attributes of the object are ignored (the fix of H.5: ``datatype``,
``callback``, ``client`` or a token never crash a search), no criterion left means
nothing matches, all criteria must match (AND), matching is exact, case-sensitive
string equality (an absent attribute counts as ``""``, like Perl's undef; a list
value, from a repeated query key, never matches). ``find_*`` returns every match in
list order; ``first_*`` returns the first, for actions on one target. The API
handler passes only the criteria its endpoint supports.

Every change goes through a method that returns the events it causes (new_friend,
lose_friend, new_group, lose_group, new_group_member, lose_group_member and the
``*_property_change`` events of the API document's event table); the client
publishes them. ``replace_all`` after a (re)login is a bulk replacement and reports
no lose_/new_ events (reference C.3) except the usual new_friend for a synthesized
filehelper. The ``diff_*`` functions are pure and can be used on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from openwx_worker.models import (
    FILEHELPER_ID,
    Event,
    Friend,
    Group,
    GroupMember,
    User,
    event,
    filehelper_friend,
    is_group_id,
)

__all__ = [
    "ContactBook",
    "diff_friends",
    "diff_groups",
    "diff_members",
    "diff_user",
    "is_group_id",
]

C = TypeVar("C", User, Friend, Group, GroupMember)

# Fields never compared for *_property_change: identity, derived, and sub-objects.
_NOT_PROPERTIES = frozenset({"id", "displayname", "member"})
# Member attributes only a full contact record carries (see _merge).
_MEMBER_DETAILS = ("province", "city", "signature")


# --------------------------------------------------------------------------- matching


def _text(value: Any) -> str:
    """An attribute as Perl's ``eq`` sees it: absent -> "", numbers -> digits."""
    if value is UNSET or value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _usable_criteria(cls: type, criteria: Mapping[str, Any]) -> dict[str, Any] | None:
    """Known, present criteria; None when none are left (which matches nothing)."""
    fields = cls.__struct_encode_fields__
    kept = {k: v for k, v in criteria.items() if v is not None and k in fields and k != "member"}
    return kept or None


def _matches(obj: Any, criteria: dict[str, Any]) -> bool:
    for key, wanted in criteria.items():
        if isinstance(wanted, list | tuple):
            return False
        if _text(getattr(obj, key)) != _text(wanted):
            return False
    return True


def _find(cls: type, index: Mapping[str, C], criteria: Mapping[str, Any]) -> list[C]:
    usable = _usable_criteria(cls, criteria)
    if usable is None:
        return []
    wanted_id = usable.get("id")
    if isinstance(wanted_id, str):  # O(1) path: ids are unique
        found = index.get(wanted_id)
        return [found] if found is not None and _matches(found, usable) else []
    return [obj for obj in index.values() if _matches(obj, usable)]


# --------------------------------------------------------------------------- diffing


def _changes(old: C, new: C) -> list[tuple[str, Any, Any]]:
    """(property, old value, new value) for properties the new record knows and changed."""
    changed = []
    for name in new.__struct_fields__:
        if name in _NOT_PROPERTIES:
            continue
        after = getattr(new, name)
        if after is UNSET:
            continue
        before = getattr(old, name)
        if _text(before) != _text(after):
            changed.append((name, None if before is UNSET else before, after))
    return changed


def _merge(old: C, new: C) -> C:
    """``new`` with the attributes it lacks (UNSET) taken from ``old``.

    A group member without ``account`` is a brief MemberList record: its province,
    city and signature are blanks, not news, so a known full record keeps them.
    """
    missing = {
        name: getattr(old, name)
        for name in new.__struct_fields__
        if getattr(new, name) is UNSET and getattr(old, name) is not UNSET and name != "member"
    }
    if isinstance(new, GroupMember) and new.account is UNSET and old.account is not UNSET:
        missing.update({name: getattr(old, name) for name in _MEMBER_DETAILS})
    return msgspec.structs.replace(new, **missing) if missing else new


def diff_user(old: User | None, new: User) -> list[Event]:
    """user_property_change events ``[user, property, old, new]``."""
    if old is None or old.id != new.id:
        return []
    return [event("user_property_change", new, *change) for change in _changes(old, new)]


def _diff_records(
    old: Iterable[C], new: Iterable[C], *, kind: str, extra: tuple[object, ...] = ()
) -> list[Event]:
    """new_<kind> / <kind>_property_change in new-list order, then lose_<kind>.

    A changed record is compared after ``_merge`` (what the new record lacks is kept);
    ``extra`` is appended to the params of the new_ and lose_ events (the group, for
    members).
    """
    before = {r.id: r for r in old}
    after_ids = set()
    events: list[Event] = []
    for record in new:
        after_ids.add(record.id)
        previous = before.get(record.id)
        if previous is None:
            events.append(event(f"new_{kind}", record, *extra))
        else:
            merged = _merge(previous, record)
            events.extend(
                event(f"{kind}_property_change", merged, *c) for c in _changes(previous, merged)
            )
    events.extend(event(f"lose_{kind}", r, *extra) for r in before.values() if r.id not in after_ids)
    return events


def diff_friends(old: Iterable[Friend], new: Iterable[Friend]) -> list[Event]:
    """friend_property_change and new_friend in new-list order, then lose_friend."""
    return _diff_records(old, new, kind="friend")


def diff_members(old: Group, new: Group) -> list[Event]:
    """Member events of one group: changes and arrivals in order, then departures.

    new_group_member / lose_group_member carry ``[member, group]`` (the group as it
    is now, with its members); group_member_property_change ``[member, prop, old, new]``.
    """
    return _diff_records(old.member or (), new.member or (), kind="group_member", extra=(new,))


def diff_groups(old: Iterable[Group], new: Iterable[Group]) -> list[Event]:
    """new_group, group_property_change and member events in new-list order, then lose_group."""
    before = {g.id: g for g in old}
    after_ids = set()
    events: list[Event] = []
    for group in new:
        after_ids.add(group.id)
        previous = before.get(group.id)
        if previous is None:
            events.append(event("new_group", group))
            continue
        events.extend(event("group_property_change", group, *c) for c in _changes(previous, group))
        if group.member is not UNSET:
            events.extend(diff_members(previous, group))
    events.extend(event("lose_group", g) for g in before.values() if g.id not in after_ids)
    return events


# --------------------------------------------------------------------------- the book


class ContactBook:
    """The account's contacts, with O(1) access by id; see the module docstring."""

    def __init__(self) -> None:
        self.user: User | None = None
        self._friends: dict[str, Friend] = {}
        self._groups: dict[str, Group] = {}
        self._members: dict[str, dict[str, GroupMember]] = {}

    # ---- reading

    @property
    def self_id(self) -> str:
        """The logged-in user's id, or "" before login."""
        return self.user.id if self.user is not None else ""

    @property
    def friends(self) -> list[Friend]:
        """All friends in contact-list order (filehelper last unless WeChat listed it)."""
        return list(self._friends.values())

    @property
    def groups(self) -> list[Group]:
        """All groups, in the order WeChat returned them, with members."""
        return list(self._groups.values())

    def friend(self, friend_id: str) -> Friend | None:
        return self._friends.get(friend_id)

    def group(self, group_id: str) -> Group | None:
        return self._groups.get(group_id)

    def member(self, group_id: str, member_id: str) -> GroupMember | None:
        members = self._members.get(group_id)
        return members.get(member_id) if members is not None else None

    def contact(self, contact_id: str) -> User | Friend | Group | None:
        """Whoever a chat id names: the user, a friend or a group."""
        if self.user is not None and contact_id == self.user.id:
            return self.user
        if is_group_id(contact_id):
            return self._groups.get(contact_id)
        return self._friends.get(contact_id)

    def find_friends(self, **criteria: Any) -> list[Friend]:
        """Every friend matching all criteria (search_friend); [] when none are usable."""
        return _find(Friend, self._friends, criteria)

    def first_friend(self, **criteria: Any) -> Friend | None:
        """The first matching friend, for actions on one target."""
        found = self.find_friends(**criteria)
        return found[0] if found else None

    def find_groups(self, **criteria: Any) -> list[Group]:
        """Every group matching all criteria (search_group); ``member`` is ignored."""
        return _find(Group, self._groups, criteria)

    def first_group(self, **criteria: Any) -> Group | None:
        found = self.find_groups(**criteria)
        return found[0] if found else None

    def find_members(
        self, group_id: str | None = None, **criteria: Any
    ) -> list[tuple[Group, GroupMember]]:
        """(group, member) pairs matching the criteria, in one group or in all of them."""
        if group_id is not None:
            group_ids: Iterable[str] = [group_id] if group_id in self._groups else []
        else:
            group_ids = self._groups
        found = []
        for gid in group_ids:
            group = self._groups[gid]
            found.extend((group, m) for m in _find(GroupMember, self._members[gid], criteria))
        return found

    def first_member(
        self, group_id: str | None = None, **criteria: Any
    ) -> tuple[Group, GroupMember] | None:
        found = self.find_members(group_id, **criteria)
        return found[0] if found else None

    # ---- bulk changes

    def replace_all(
        self, user: User, friends: Iterable[Friend], groups: Iterable[Group]
    ) -> list[Event]:
        """Take the contacts of a fresh login wholesale.

        Ids change on every QR login, so no lose_/new_ events are made (reference
        C.3). The only event is new_friend for filehelper when it had to be added.
        """
        self.user = user
        self._friends = {f.id: f for f in friends}
        events = []
        if FILEHELPER_ID not in self._friends:
            helper = filehelper_friend()
            self._friends[FILEHELPER_ID] = helper
            events.append(event("new_friend", helper))
        self._groups = {}
        self._members = {}
        for group in groups:
            self._store_group(group)
        return events

    def refresh(
        self, user: User, friends: Iterable[Friend], groups: Iterable[Group]
    ) -> list[Event]:
        """Take a full re-read of the contacts within one session and report the differences.

        The new lists set the order; attributes a new record lacks are kept from the
        old one; filehelper stays even if the new list lacks it.
        """
        events = diff_user(self.user, user)
        self.user = user
        new_friends = [self._merged_friend(f) for f in friends]
        if FILEHELPER_ID not in {f.id for f in new_friends} and FILEHELPER_ID in self._friends:
            new_friends.append(self._friends[FILEHELPER_ID])
        events += diff_friends(self._friends.values(), new_friends)
        self._friends = {f.id: f for f in new_friends}
        new_groups = [self._merged_group(g) for g in groups]
        events += diff_groups(self._groups.values(), new_groups)
        self._groups, self._members = {}, {}
        for group in new_groups:
            self._store_group(group)
        return events

    # ---- single changes

    def update_user(self, user: User) -> list[Event]:
        """Store a new record of the user: user_property_change events."""
        previous = self.user
        events = diff_user(previous, user)
        same = previous is not None and previous.id == user.id
        self.user = _merge(previous, user) if same else user
        if not same:  # group displaynames leave out "yourself"
            for group in list(self._groups.values()):
                self._store_group(group)
        return events

    def update_friend(self, friend: Friend) -> list[Event]:
        """Add or change one friend: new_friend or friend_property_change events."""
        previous = self._friends.get(friend.id)
        events = diff_friends([previous] if previous else [], [friend])
        self._friends[friend.id] = self._merged_friend(friend)
        return events

    def remove_friend(self, friend_id: str) -> list[Event]:
        """Forget one friend: lose_friend, or nothing if unknown."""
        previous = self._friends.pop(friend_id, None)
        return [event("lose_friend", previous)] if previous is not None else []

    def update_group(self, group: Group) -> list[Event]:
        """Add or change one group (members included unless ``member`` is UNSET)."""
        previous = self._groups.get(group.id)
        merged = self._merged_group(group)
        stored = self._store_group(merged)
        if previous is None:
            return [event("new_group", stored)]
        return diff_groups([previous], [stored])

    def remove_group(self, group_id: str) -> list[Event]:
        """Forget one group: lose_group (with its members), or nothing if unknown."""
        previous = self._groups.pop(group_id, None)
        self._members.pop(group_id, None)
        return [event("lose_group", previous)] if previous is not None else []

    def update_member(self, group_id: str, member: GroupMember) -> list[Event]:
        """Add or change one member of a known group (new members go last)."""
        members = self._members.get(group_id)
        if members is None:
            return []
        previous = members.get(member.id)
        merged = _merge(previous, member) if previous is not None else member
        members = dict(members)
        members[member.id] = merged
        group = self._store_group(
            msgspec.structs.replace(self._groups[group_id], member=tuple(members.values()))
        )
        if previous is None:
            return [event("new_group_member", merged, group)]
        return [
            event("group_member_property_change", merged, *c) for c in _changes(previous, merged)
        ]

    def remove_member(self, group_id: str, member_id: str) -> list[Event]:
        """Remove one member: lose_group_member ``[member, group]``, or nothing if unknown."""
        members = self._members.get(group_id)
        if members is None or member_id not in members:
            return []
        previous = members[member_id]
        remaining = tuple(m for m in members.values() if m.id != member_id)
        group = self._store_group(msgspec.structs.replace(self._groups[group_id], member=remaining))
        return [event("lose_group_member", previous, group)]

    # ---- internals

    def _merged_friend(self, friend: Friend) -> Friend:
        previous = self._friends.get(friend.id)
        return _merge(previous, friend) if previous is not None else friend

    def _merged_group(self, group: Group) -> Group:
        """Keep known members when ``member`` is UNSET; merge each member record."""
        previous = self._groups.get(group.id)
        if previous is None:
            return group if group.member is not UNSET else msgspec.structs.replace(group, member=())
        merged = _merge(previous, group)
        if group.member is UNSET:
            return msgspec.structs.replace(merged, member=previous.member)
        known = self._members.get(group.id, {})
        members = tuple(_merge(known[m.id], m) if m.id in known else m for m in group.member)
        return msgspec.structs.replace(merged, member=members)

    def _store_group(self, group: Group) -> Group:
        """Index a group (displayname recomputed for this user) and return it."""
        if group.member is UNSET:
            group = msgspec.structs.replace(group, member=())
        group = group.with_displayname(self.self_id)
        self._groups[group.id] = group
        self._members[group.id] = {m.id: m for m in group.member}
        return group
