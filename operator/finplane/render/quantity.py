"""Kubernetes quantities ("500m", "256Mi", "1.5", 2) as exact numbers, for comparing limits and requests.

Pure; called by the capability checks and the sandbox quota renderer.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["parse_quantity"]

_SUFFIX = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9, "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}
_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


def parse_quantity(value: int | float | str) -> Decimal:
    """The quantity's value in base units (cores, bytes); ValueError when it does not parse."""
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    m = _RE.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a quantity")
    try:
        return Decimal(m.group(1)) * _SUFFIX[m.group(2) or ""]
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a quantity") from exc
