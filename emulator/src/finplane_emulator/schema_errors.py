"""Field errors and the 422 `Status` body, formatted exactly like k8s.io/apimachinery does.

schema.py and schema_walk.py produce `FieldError`s; the embedded API server turns a list of them
into the response body with `invalid_status`. The formatting mirrors
k8s.io/apimachinery/pkg/util/validation/field/errors.go (`Error()` / `ErrorBody()`, Go's `%v`
and `%q` verbs) and k8s.io/apimachinery/pkg/api/errors.NewInvalid. Pure: no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["FieldError", "aggregate_message", "go_value", "invalid_status"]

# CauseType -> the words field/errors.go prints for it.
_TYPE_WORDS = {
    "FieldValueNotFound": "Not found",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}
# Types whose body never shows the bad value.
_NO_VALUE = {"FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError"}
_OMIT = object()


def go_float(value: float) -> str:
    """Go's %v for a float64: shortest digits, %e form when the exponent is < -4 or >= 6.

    fmt's %v uses strconv 'g' with the shortest precision, whose switch to %e happens at an
    exponent of 6 or more (fmt.Println(1e6) prints 1e+06) or below -4.
    """
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    text = "".join(str(d) for d in digits)
    sci = len(text) - 1 + int(exponent)
    prefix = "-" if sign else ""
    if sci < -4 or sci >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if sci < 0 else '+'}{abs(sci):02d}"
    if sci >= len(text) - 1:
        return prefix + text + "0" * (sci - len(text) + 1)
    if sci >= 0:
        return f"{prefix}{text[:sci + 1]}.{text[sci + 1:]}"
    return f"{prefix}0.{'0' * (-sci - 1)}{text}"


def _go_quote(text: str) -> str:
    # json.dumps escapes like strconv.Quote for everything we meet (ASCII, \n, \t, quotes).
    return json.dumps(text, ensure_ascii=False)


def _go_raw(value: Any) -> str:
    """Go's %#v for decoded JSON (map[string]interface {}{...}, []interface {}{...})."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, dict):
        inner = ", ".join(f"{_go_quote(str(k))}:{_go_raw(v)}" for k, v in sorted(value.items()))
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list | tuple):
        return f"[]interface {{}}{{{', '.join(_go_raw(v) for v in value)}}}"
    return repr(value)


def go_value(value: Any) -> str:
    """How field/errors.go prints a bad value: %v for numbers and bools, %q for strings, else %#v."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return _go_quote(value)
    return _go_raw(value)


@dataclass(frozen=True)
class FieldError:
    """One field-level error: `type` is the CauseType ("FieldValueInvalid"...), `field` the path.

    `message` is the body without the field (what goes into `details.causes[].message`);
    `str(error)` is the full "field: body" line of the Status message.
    """

    type: str
    field: str
    bad_value: Any = None
    detail: str = ""

    @property
    def message(self) -> str:
        if self.type in _NO_VALUE or self.bad_value is _OMIT:
            body = _TYPE_WORDS.get(self.type, self.type)
        else:
            body = f"{_TYPE_WORDS.get(self.type, self.type)}: {go_value(self.bad_value)}"
        return f"{body}: {self.detail}" if self.detail else body

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    @classmethod
    def too_many(cls, field: str, actual: int, maximum: int) -> FieldError:
        return cls("FieldValueTooMany", field, actual, f"must have at most {maximum} items")


def _dedup(errors: Iterable[FieldError]) -> list[FieldError]:
    # ErrorList.ToAggregate drops errors whose text repeats.
    seen: set[str] = set()
    out: list[FieldError] = []
    for err in errors:
        text = str(err)
        if text not in seen:
            seen.add(text)
            out.append(err)
    return out


def aggregate_message(errors: Sequence[FieldError]) -> str:
    """utilerrors.NewAggregate(...).Error(): one error alone, several as "[a, b]"."""
    errs = _dedup(errors)
    if len(errs) == 1:
        return str(errs[0])
    return "[" + ", ".join(str(e) for e in errs) + "]"


def invalid_status(*, kind: str, group: str, name: str, errors: Sequence[FieldError]) -> dict[str, Any]:
    """The 422 Invalid `Status` body of apierrors.NewInvalid(qualifiedKind, name, errors)."""
    qualified = f"{kind}.{group}" if group else kind
    errs = _dedup(errors)
    causes = [{"reason": e.type, "message": e.message, "field": e.field} for e in errs]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{qualified} "{name}" is invalid: {aggregate_message(errs)}',
        "reason": "Invalid",
        "details": {"name": name, "group": group, "kind": kind, "causes": causes},
        "code": 422,
    }
