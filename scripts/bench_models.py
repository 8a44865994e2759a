"""Benchmark the model JSON and ContactBook look-ups at the size of a big account.

get_friend_info encodes every friend on each call, so encoding 5,000 friends must
take well under 10 ms (issue 2). Also times a 200-group get_group_info, a full-scan
search over 5,000 friends and the message-content cleaner, for context.
Each figure is the best of several runs (the least disturbed by other processes).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from openwx_worker.contacts import ContactBook
from openwx_worker.models import encode, make_friend, make_group, make_member, make_user
from openwx_worker.text import clean


def best_ms(fn: Callable[[], object], runs: int = 50) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def main() -> None:
    friends = [
        make_friend(
            id=f"@{i:064x}",
            name=f"好友{i}",
            markname=f"备注{i}" if i % 3 else "",
            account=f"wx{i}",
            province="广东",
            city="深圳",
            signature="个性签名" * 4,
            sex=i % 3,
            verify_flag=8 if i % 50 == 0 else 0,
        )  # fmt: skip
        for i in range(5000)
    ]
    groups = [
        make_group(
            id=f"@@{g:064x}",
            name=f"群{g}" if g % 2 else "",
            members=[make_member(id=f"@{g:032x}{m:032x}", nickname=f"成员{m}") for m in range(100)],
            self_id="@me",
        )
        for g in range(200)
    ]
    book = ContactBook()
    book.replace_all(make_user(id="@me", uid=1, name="me"), friends, groups)
    content = 'a &lt;b&gt;<br/>line two<span class="emoji emoji1f604"></span> &amp; more ' * 20

    print(f"models.encode_5000_friends_ms: {best_ms(lambda: encode(friends)):.2f} (target < 10)")
    print(
        f"models.encode_200_groups_20000_members_ms: {best_ms(lambda: encode(groups), 20):.2f}"
        " (target < 50)"
    )
    search = best_ms(lambda: book.find_friends(city="深圳", markname="备注4999"), 20)
    print(f"contacts.search_5000_friends_scan_ms: {search:.2f} (target < 10)")
    by_id = best_ms(lambda: book.first_friend(id=f"@{4999:064x}"), 200) * 1000
    print(f"contacts.lookup_by_id_us: {by_id:.1f} (target < 50)")
    print(
        f"text.clean_2kb_content_us: {best_ms(lambda: clean(content), 200) * 1000:.1f} (target < 500)"
    )


if __name__ == "__main__":
    main()
