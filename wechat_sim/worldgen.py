"""Making worlds: the small default world, a seeded generator, and JSON world files.

World file (JSON; unknown keys are refused so typos surface)::

    {"people":   [{"wxid": "wxid_carol", "nickname": "Carol", "sex": 2}],
     "accounts": [{"wxid": "wxid_alice", "nickname": "Alice", "uin": 1234567890,
                   "main_host": "wx2.qq.com",
                   "friends": [{"wxid": "wxid_carol", "remark": "C"}, {"wxid": "filehelper"}]}],
     "groups":   [{"wxid": "1234567890@chatroom", "topic": "Team", "owner": "wxid_alice",
                   "members": ["wxid_alice", "wxid_carol"]}]}

The same keys in TOML (`[[people]]`, `[[accounts]]`, `[[accounts.friends]]`, `[[groups]]`)
when the file name ends in `.toml`. The specials `filehelper`, `weixin` and `fmessage`
always exist as people.
"""

from __future__ import annotations

import random
import tomllib
from pathlib import Path

import msgspec

from wechat_sim import ids
from wechat_sim.model import Friendship, Group, Person
from wechat_sim.world import SimConfig, World


class PersonSpec(msgspec.Struct, forbid_unknown_fields=True):
    wxid: str
    nickname: str
    sex: int = 0
    province: str = ""
    city: str = ""
    signature: str = ""
    alias: str = ""
    verify_flag: int = 0


class FriendSpec(msgspec.Struct, forbid_unknown_fields=True):
    wxid: str
    remark: str = ""
    starred: bool = False
    pinned: bool = False


class AccountSpec(msgspec.Struct, forbid_unknown_fields=True):
    wxid: str
    nickname: str
    uin: int | None = None
    main_host: str = "wx.qq.com"
    web_barred: bool = False
    sex: int = 0
    signature: str = ""
    friends: list[FriendSpec] = []


class GroupSpec(msgspec.Struct, forbid_unknown_fields=True):
    wxid: str
    topic: str
    owner: str
    members: list[str]
    display_names: dict[str, str] = {}


class WorldSpec(msgspec.Struct, forbid_unknown_fields=True):
    people: list[PersonSpec] = []
    accounts: list[AccountSpec] = []
    groups: list[GroupSpec] = []


def _specials(world: World) -> None:
    world.add_person(Person("filehelper", "文件传输助手"))
    world.add_person(Person("weixin", "微信团队", verify_flag=56))
    world.add_person(Person("fmessage", "朋友推荐消息"))


def build(spec: WorldSpec, config: SimConfig | None = None, seed: int | None = None) -> World:
    """A World from a spec; every id named by a friend list or group must exist."""
    world = World(config, seed=seed)
    _specials(world)
    for p in spec.people:
        world.add_person(Person(**msgspec.structs.asdict(p)))
    for a in spec.accounts:
        world.add_account(
            Person(a.wxid, a.nickname, sex=a.sex, signature=a.signature),
            uin=a.uin,
            main_host=a.main_host,
        ).web_barred = a.web_barred
    for a in spec.accounts:
        account = world.accounts[a.wxid]
        for f in a.friends:
            if f.wxid not in world.people:
                raise ValueError(f"account {a.wxid}: unknown friend {f.wxid!r}")
            account.friends[f.wxid] = Friendship(f.remark, f.starred, f.pinned)
    for g in spec.groups:
        for member in [g.owner, *g.members]:
            if member not in world.people:
                raise ValueError(f"group {g.wxid}: unknown member {member!r}")
        world.add_group(Group(g.wxid, g.topic, g.owner, list(g.members), dict(g.display_names)))
    return world


def load(path: str | Path, config: SimConfig | None = None, seed: int | None = None) -> World:
    """A World from a world file: JSON, or TOML when the name ends in `.toml`."""
    path = Path(path)
    if path.suffix == ".toml":
        spec = msgspec.convert(tomllib.loads(path.read_text("utf-8")), type=WorldSpec)
    else:
        spec = msgspec.json.decode(path.read_bytes(), type=WorldSpec)
    return build(spec, config, seed)


def default_spec() -> WorldSpec:
    """Two accounts (Alice, Bob) who are friends, a few contacts, an official account, a group."""
    people = [
        PersonSpec("wxid_carol0000000001", "Carol", sex=2, province="广东", city="深圳"),
        PersonSpec("wxid_dave00000000002", "Dave 大卫", sex=1, signature="hello"),
        PersonSpec("wxid_erin00000000003", "Erin", sex=2),
        PersonSpec("gh_0123456789ab", "腾讯新闻", verify_flag=24, signature="news"),
    ]
    common = [FriendSpec("filehelper"), FriendSpec("weixin"), FriendSpec("gh_0123456789ab")]
    accounts = [
        AccountSpec(
            "wxid_alice0000000001", "Alice", sex=2,
            friends=[*common, FriendSpec("wxid_bob000000000002", remark="Bobby"),
                     FriendSpec("wxid_carol0000000001", pinned=True),
                     FriendSpec("wxid_dave00000000002")],
        ),
        AccountSpec(
            "wxid_bob000000000002", "Bob", sex=1,
            friends=[*common, FriendSpec("wxid_alice0000000001"),
                     FriendSpec("wxid_erin00000000003")],
        ),
    ]  # fmt: skip
    groups = [
        GroupSpec(
            "1234567890@chatroom", "测试群", "wxid_alice0000000001",
            ["wxid_alice0000000001", "wxid_bob000000000002", "wxid_carol0000000001",
             "wxid_dave00000000002", "wxid_erin00000000003"],
            {"wxid_carol0000000001": "卡罗尔"},
        ),
        GroupSpec(
            "2345678901@chatroom", "Family", "wxid_carol0000000001",
            ["wxid_carol0000000001", "wxid_alice0000000001", "wxid_dave00000000002"],
        ),
    ]  # fmt: skip
    return WorldSpec(people=people, accounts=accounts, groups=groups)


def default_world(config: SimConfig | None = None, seed: int | None = None) -> World:
    return build(default_spec(), config, seed)


def generate_spec(
    *, friends: int = 20, groups: int = 3, members: int = 10, seed: int = 0, accounts: int = 2
) -> WorldSpec:
    """A deterministic world: `accounts` phones, each with `friends` friends (plus filehelper,
    weixin and one official account) and `groups` groups of `members` members."""
    rng = random.Random(seed)
    people: list[PersonSpec] = []
    account_specs: list[AccountSpec] = []
    group_specs: list[GroupSpec] = []
    for a in range(accounts):
        wxid = ids.wxid(rng)
        official = PersonSpec(ids.official(rng), f"公众号{a}", verify_flag=24)
        people.append(official)
        pool = []
        for i in range(friends):
            p = PersonSpec(
                ids.wxid(rng), f"好友{a}-{i}" if i % 2 else f"Friend {a}-{i}",
                sex=rng.choice((0, 1, 2)), province=rng.choice(("广东", "北京", "")),
            )  # fmt: skip
            people.append(p)
            pool.append(p.wxid)
        friend_list = [FriendSpec("filehelper"), FriendSpec("weixin"), FriendSpec(official.wxid)]
        friend_list += [
            FriendSpec(w, remark=f"备注{i}" if i % 5 == 0 else "") for i, w in enumerate(pool)
        ]
        account_specs.append(
            AccountSpec(wxid, f"Account {a}", uin=ids.uin(rng), friends=friend_list)
        )
        strangers = []
        for g in range(groups):
            need = max(0, members - 1)
            chosen = rng.sample(pool, min(need, len(pool)))
            while len(chosen) < need:
                s = PersonSpec(ids.wxid(rng), f"群友{a}-{g}-{len(strangers)}")
                people.append(s)
                strangers.append(s.wxid)
                chosen.append(s.wxid)
            owner = wxid if g % 2 == 0 or not chosen else chosen[0]
            group_specs.append(GroupSpec(ids.chatroom(rng), f"群{a}-{g}", owner, [wxid, *chosen]))
    return WorldSpec(people=people, accounts=account_specs, groups=group_specs)


def generate(
    *, friends: int = 20, groups: int = 3, members: int = 10, seed: int = 0, accounts: int = 2,
    config: SimConfig | None = None,
) -> World:  # fmt: skip
    spec = generate_spec(
        friends=friends, groups=groups, members=members, seed=seed, accounts=accounts
    )
    return build(spec, config, seed)
