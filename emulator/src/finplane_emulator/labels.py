"""Label validation as the real API server does it (apimachinery's ValidateLabels): 422 on bad keys or values.

Called by `writes` on create and on every replace of an object's metadata. Without it the emulator
stored labels no real cluster accepts (control characters, emoji, 100-character values), and code
that copies labels onto children could pass every test here and fail on a real cluster.
"""

from __future__ import annotations

import re
from typing import Any

from finplane_emulator.errors import invalid
from finplane_emulator.resources import ResourceInfo

__all__ = ["validate_labels"]

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character")


def _key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in prefix or (prefix and (len(prefix) > 253 or not _PREFIX.match(prefix))):
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
    if not name or len(name) > 63 or not _NAME.match(name):
        return f"name part {_NAME_RULE} (at most 63 characters)"
    return None


def validate_labels(info: ResourceInfo, name: str, metadata: dict[str, Any]) -> None:
    """Raise 422 Invalid naming `metadata.labels` when a label key or value is not valid."""
    causes: list[tuple[str, str, str]] = []
    for key, value in (metadata.get("labels") or {}).items():
        if (problem := _key_problem(str(key))) is not None:
            causes.append(("FieldValueInvalid", "metadata.labels", f'Invalid value: "{key}": {problem}'))
        if not isinstance(value, str) or len(value) > 63 or (value and not _NAME.match(value)):
            causes.append(("FieldValueInvalid", "metadata.labels",
                           f'Invalid value: "{value}": a valid label must be an empty string or {_NAME_RULE[5:]} '
                           "(at most 63 characters)"))
    if causes:
        raise invalid(kind=info.kind, group=info.group, name=name, causes=causes)
