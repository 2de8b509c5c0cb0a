"""Compare a rendered child with the live object: is the rendering already true?

Pure; called by `finplane.reconcile.children` before any write, so that reconciling an
unchanged object writes nothing. The rendering is a subset of the live object (the server adds
defaults, status and metadata), so we check "desired ⊆ live" and report the paths that differ,
which also names the fields of a drift.
"""

from __future__ import annotations

from typing import Any

__all__ = ["differences"]

# Metadata the renderer sets and the comparison must look at; everything else in metadata is the server's.
_META_KEYS = ("labels", "annotations", "ownerReferences")


def differences(desired: dict[str, Any], live: dict[str, Any]) -> list[str]:
    """Paths (like `spec.template.spec.containers[0].image`) where `live` does not hold `desired`."""
    out: list[str] = []
    for key, want in desired.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            for mkey in _META_KEYS:
                if mkey in want:
                    _diff(want[mkey], live.get("metadata", {}).get(mkey), f"metadata.{mkey}", out)
            continue
        _diff(want, live.get(key), key, out)
    return out


def _diff(want: Any, have: Any, path: str, out: list[str]) -> None:
    if want in ({}, []) and have is None:
        return  # an empty map or list and an absent field mean the same to the API server
    if isinstance(want, dict):
        if not isinstance(have, dict):
            out.append(path)
            return
        for k, v in want.items():
            _diff(v, have.get(k), f"{path}.{k}", out)
    elif isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            out.append(path)
            return
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _diff(w, h, f"{path}[{i}]", out)
    elif want != have and not _same_scalar(want, have):
        out.append(path)


def _same_scalar(want: Any, have: Any) -> bool:
    # The server may echo an int-or-string as the other type (e.g. targetPort 8080 vs "8080").
    return want is not None and have is not None and str(want) == str(have) and not isinstance(want, bool)
