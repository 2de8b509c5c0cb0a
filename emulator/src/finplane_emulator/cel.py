"""CEL for `x-kubernetes-validations`, on top of the `cel-python` package (import `celpy`).

schema.py compiles each rule once per CRD schema (`compile_rule`) and evaluates it on every
write (`CelRule.evaluate`). Besides the CEL standard library that celpy implements (macros
`has`, `all`, `exists`, `exists_one`, `map`, `filter`; `size`, `matches`, `startsWith`,
`endsWith`, `contains`, `in`, conversions, `duration`/`timestamp`), a few of the Kubernetes
CEL library functions are provided here: the strings extension (`lowerAscii`, `upperAscii`,
`trim`, `replace`, `split`, `join`, `indexOf`, `lastIndexOf`, `substring`, `charAt`) and the
Kubernetes list library (`isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`).
Not available: `quantity`, `url`, `ip`/`cidr`, `format`, `optional` types, cost limits.
Pure: no I/O.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import celpy
from celpy import celtypes

__all__ = ["CelCompileError", "CelEvalError", "CelRule", "compile_expression", "compile_rule", "to_cel"]

_OLD_SELF = re.compile(r"\boldSelf\b")


class CelCompileError(ValueError):
    """A rule that does not parse; the message mirrors "compilation failed: ERROR: ..."."""


class CelEvalError(ValueError):
    """A rule that failed at run time (missing key, wrong type...)."""


def _s(value: Any) -> celtypes.StringType:
    return celtypes.StringType(value)


def _list_fn(fn: Callable[[list[Any]], Any]) -> Callable[[Any], Any]:
    return lambda lst: fn(list(lst))


def _index_of(receiver: Any, item: Any) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(str(receiver).find(str(item)))
    items = list(receiver)
    return celtypes.IntType(items.index(item) if item in items else -1)


def _last_index_of(receiver: Any, item: Any) -> celtypes.IntType:
    if isinstance(receiver, str):
        return celtypes.IntType(str(receiver).rfind(str(item)))
    items = list(receiver)
    return celtypes.IntType(len(items) - 1 - items[::-1].index(item) if item in items else -1)


def _sum(items: list[Any]) -> Any:
    if not items:
        return celtypes.IntType(0)
    total = items[0]
    for item in items[1:]:
        total = total + item
    return total


def _extremum(items: list[Any], pick: Callable[..., Any]) -> Any:
    if not items:
        raise ValueError("min/max of an empty list")
    return pick(items)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: _s(str(s).lower()),
    "upperAscii": lambda s: _s(str(s).upper()),
    "trim": lambda s: _s(str(s).strip()),
    "replace": lambda s, old, new, n=-1: _s(str(s).replace(str(old), str(new), int(n))),
    "split": lambda s, sep, n=-1: celtypes.ListType(_s(p) for p in str(s).split(str(sep), int(n) if int(n) >= 0 else -1)),
    "join": lambda lst, sep="": _s(str(sep).join(str(x) for x in lst)),
    "substring": lambda s, start, end=None: _s(str(s)[int(start):(int(end) if end is not None else None)]),
    "charAt": lambda s, i: _s(str(s)[int(i):int(i) + 1]),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "isSorted": _list_fn(lambda items: celtypes.BoolType(all(a <= b for a, b in zip(items, items[1:], strict=False)))),
    "sum": _list_fn(_sum),
    "min": _list_fn(lambda items: _extremum(items, min)),
    "max": _list_fn(lambda items: _extremum(items, max)),
}



@functools.cache
def _env() -> Any:
    """The CEL environment, built on first use: building celpy's parser takes ~0.4 s, which every
    server start paid before, whether or not any CRD had `x-kubernetes-validations`."""
    return celpy.Environment()


def to_cel(value: Any) -> Any:
    """JSON-like Python value -> CEL value (celpy.json_to_cel, with None kept as null)."""
    return celpy.json_to_cel(value)


@dataclass(frozen=True)
class CelRule:
    """One compiled x-kubernetes-validations entry."""

    rule: str
    message: str | None
    message_expression: Any  # compiled program or None
    field_path: str | None
    reason: str | None
    program: Any
    uses_old_self: bool

    def evaluate(self, self_value: Any, old_value: Any = None) -> bool:
        """True when the rule holds; raise CelEvalError when it cannot be evaluated."""
        activation = {"self": to_cel(self_value)}
        if self.uses_old_self:
            activation["oldSelf"] = to_cel(old_value)
        try:
            result = self.program.evaluate(activation)
        except Exception as exc:  # celpy raises its own errors and Python ones
            raise CelEvalError(_describe(exc)) from None
        if isinstance(result, Exception):
            raise CelEvalError(_describe(result))
        if not isinstance(result, bool | celtypes.BoolType):
            raise CelEvalError(f"rule returned {type(result).__name__}, expected bool")
        return bool(result)

    def failure_message(self, self_value: Any, old_value: Any = None) -> str:
        """The text reported when the rule fails: messageExpression, message, or the rule."""
        if self.message_expression is not None:
            activation = {"self": to_cel(self_value)}
            if self.uses_old_self:
                activation["oldSelf"] = to_cel(old_value)
            try:
                text = self.message_expression.evaluate(activation)
                if isinstance(text, str) and text.strip():
                    return str(text)
            except Exception:  # noqa: BLE001 - the real server falls back to message too
                pass
        if self.message:
            return self.message
        return f"failed rule: {self.rule}"


def _describe(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], str):
        return args[0]
    return str(exc)


def _compile(expression: str) -> Any:
    try:
        ast = _env().compile(expression)
    except Exception as exc:  # CELParseError and lark errors
        text = str(exc).strip().replace("\n", " ")
        raise CelCompileError(f"compilation failed: ERROR: <input>: Syntax error: {text}") from None
    return _env().program(ast, functions=_FUNCTIONS)


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """One CEL expression compiled with the Kubernetes functions above (used by admission_vap.py)."""
    return _compile(expression)


_CACHE: dict[tuple[str, str | None, str | None, str | None, str | None], CelRule] = {}


def compile_rule(spec: Mapping[str, Any]) -> CelRule:
    """Compile one `x-kubernetes-validations` item; cached by its content."""
    rule = spec.get("rule")
    if not isinstance(rule, str) or not rule.strip():
        raise CelCompileError("rule is required")
    key = (rule, spec.get("message"), spec.get("messageExpression"), spec.get("fieldPath"), spec.get("reason"))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    message_expression = spec.get("messageExpression")
    compiled = CelRule(
        rule=rule,
        message=spec.get("message"),
        message_expression=_compile(message_expression) if message_expression else None,
        field_path=spec.get("fieldPath"),
        reason=spec.get("reason"),
        program=_compile(rule),
        uses_old_self=bool(_OLD_SELF.search(rule)),
    )
    if len(_CACHE) > 4096:
        _CACHE.clear()
    _CACHE[key] = compiled
    return compiled
