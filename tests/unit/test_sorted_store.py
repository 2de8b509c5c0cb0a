"""The platform API's sorted store: pages walked in key order without sorting, kept right under churn.

Covers `finplane.kube.sorted_store.SortedStore` (the informer's store and MemoryCache's) and
`platform_api.pagination.take_page`: the pages they give equal sorting every object and cutting at
the cursor, through inserts, replacements and deletions, and a relist of the informer.
"""

from __future__ import annotations

import random

from finplane.kube.sorted_store import SortedStore
from platform_api.pagination import decode_cursor, obj_key, paginate, take_page


def _obj(ns: str, name: str, v: int = 0) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "X", "metadata": {"namespace": ns, "name": name, "resourceVersion": str(v)}}


def test_walking_after_a_key_matches_sorting_everything_under_churn() -> None:
    rng = random.Random(7)
    store = SortedStore()
    shadow: dict[tuple[str, str], dict[str, object]] = {}
    for step in range(3000):
        key = (f"team-{rng.randrange(5)}", f"cap-{rng.randrange(200):03d}")
        if rng.random() < 0.3 and key in shadow:
            del store[key]
            del shadow[key]
        else:
            store[key] = shadow[key] = _obj(*key, step)
        if step % 97 == 0:
            after = (f"team-{rng.randrange(5)}", f"cap-{rng.randrange(200):03d}")
            expected = [shadow[k] for k in sorted(shadow) if k > after]
            assert list(store.after(after)) == expected
            assert list(store.after()) == [shadow[k] for k in sorted(shadow)]
    assert len(store) == len(shadow) and dict(store.items()) == shadow


def test_take_page_gives_the_pages_paginate_gives_and_every_item_once() -> None:
    items = [_obj(f"team-{i % 7}", f"cap-{i:04d}") for i in range(523)]
    store = SortedStore((obj_key(o), o) for o in items)  # type: ignore[arg-type]
    seen: list[object] = []
    cursor: str | None = None
    while True:
        page = take_page(store.after(decode_cursor(cursor) if cursor else None), key=obj_key, limit=50)
        reference = paginate(items, key=obj_key, limit=50, cursor=cursor)
        assert list(page) == list(reference) and page.next_cursor == reference.next_cursor
        seen += page
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == sorted(items, key=obj_key)  # type: ignore[arg-type]


def test_a_key_deleted_between_pages_neither_shifts_nor_repeats_the_next_page() -> None:
    store = SortedStore((("ns", f"n{i:02d}"), _obj("ns", f"n{i:02d}")) for i in range(10))
    first = take_page(store.after(), key=obj_key, limit=4)
    assert first.next_cursor is not None
    del store[("ns", "n03")]  # the last item served
    del store[("ns", "n05")]  # one not yet served
    store[("ns", "n03a")] = _obj("ns", "n03a")  # inserted just after the cursor
    second = take_page(store.after(decode_cursor(first.next_cursor)), key=obj_key, limit=4)
    assert [o["metadata"]["name"] for o in second] == ["n03a", "n04", "n06", "n07"]  # type: ignore[index]
