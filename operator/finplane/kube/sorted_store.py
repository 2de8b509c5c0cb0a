"""A dict of objects by (namespace, name) that also keeps its keys sorted: pages without sorting.

Used as the store of `finplane.kube.informer.Informer` (the platform API's watch-fed cache) and by
`platform_api.cache.MemoryCache`. A list route asks for the objects after a cursor's key in key
order (`after`) and stops after one page, so serving a page of 10,000 objects costs a binary search
and the page itself instead of a Python key function called on every item (bench/api_catalog.py).
The sorted key list is maintained on insert and delete (a binary search and a memmove each: only
new or removed keys touch it; a MODIFIED event replaces the value alone).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

__all__ = ["Key", "SortedStore"]

Key = tuple[str, str]  # (namespace or "", name): the order every list route pages in
Obj = dict[str, Any]


class SortedStore(MutableMapping[Key, Obj]):
    """`store[key] = obj` like a dict; `after(key)` walks the objects in key order from just past `key`."""

    def __init__(self, items: Iterable[tuple[Key, Obj]] = ()) -> None:
        self._objs: dict[Key, Obj] = dict(items)
        self._keys: list[Key] = sorted(self._objs)

    def __getitem__(self, key: Key) -> Obj:
        return self._objs[key]

    def __setitem__(self, key: Key, obj: Obj) -> None:
        if key not in self._objs:
            insort(self._keys, key)
        self._objs[key] = obj

    def __delitem__(self, key: Key) -> None:
        del self._objs[key]
        i = bisect_left(self._keys, key)
        del self._keys[i]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._objs)

    def __len__(self) -> int:
        return len(self._objs)

    def after(self, key: tuple[str, ...] | None = None) -> Iterator[Obj]:
        """The objects whose key sorts strictly after `key` (all of them for None), in key order.

        Lazy: a caller taking one page reads one page. Do not write to the store while iterating
        (the routes read it synchronously, between watch events)."""
        keys, objs = self._keys, self._objs
        start = 0 if key is None else bisect_right(keys, key)
        for i in range(start, len(keys)):
            yield objs[keys[i]]
