"""Copy JSON-shaped data (dicts, lists, scalars) fast: `copy.deepcopy` without its memo and dispatch.

Kubernetes objects are JSON data; the operator copies every watch body it keeps, so `copy.deepcopy`
showed in its profiles. Anything that is not JSON data still goes through `copy.deepcopy`. Pure; used by
`reconcile.runtime` and `reconcile.child_cache` (the emulator keeps its own copy).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["copy_json"]

_ATOMIC = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any) -> Any:
    """A deep copy of `value`, several times faster than `copy.deepcopy` for JSON data."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if kind in _ATOMIC:
        return value
    return copy.deepcopy(value)
