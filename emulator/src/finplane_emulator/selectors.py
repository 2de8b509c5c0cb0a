"""Label and field selectors, parsed and matched the way the kube-apiserver does.

The embedded API server's list and watch handlers call `parse_label_selector` /
`parse_field_selector` on the `labelSelector` / `fieldSelector` query parameters, and
`label_selector_from_dict` on `metav1.LabelSelector` objects found in specs (garbage
collection, PodDisruptionBudgets...). Pure: no I/O.

The grammar and the error texts follow k8s.io/apimachinery/pkg/labels/selector.go and
k8s.io/apimachinery/pkg/fields/selector.go, so a client sees the same 400 messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_FIELD_LABELS",
    "FieldRequirement",
    "FieldSelector",
    "LabelRequirement",
    "LabelSelector",
    "label_selector_from_dict",
    "parse_field_selector",
    "parse_label_selector",
]

# Tokens of the label selector lexer (same set as apimachinery's string2token).
_KEYWORDS = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "in": "in",
             "<": "<", "!=": "!=", "notin": "notin", "(": "("}
_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_IDENT = "IDENT"
_END = "END"
_ERROR = "ERROR"

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(rf"^{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_QUALIFIED_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def _check_label_key(key: str) -> None:
    prefix, sep, name = key.rpartition("/")
    if sep and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN_RE.match(prefix)):
        raise ValueError(f"invalid label key {key!r}: prefix part must be a lowercase RFC 1123 subdomain")
    if not name or len(name) > 63 or not _QUALIFIED_NAME_RE.match(name):
        raise ValueError(f"invalid label key {key!r}: {_QUALIFIED_NAME_MSG}")


def _check_label_value(value: str) -> None:
    if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
        raise ValueError(f"invalid label value: {value!r}: at key: {_LABEL_VALUE_MSG}")


@dataclass(frozen=True)
class LabelRequirement:
    """One requirement: `key op values`; op is one of = == != in notin exists !exists gt lt."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in ("=", "==", "in"):
            return self.key in labels and labels[self.key] in self.values
        if op in ("!=", "notin"):
            # As in apimachinery: a missing key satisfies != and notin.
            return self.key not in labels or labels[self.key] not in self.values
        if op == "exists":
            return self.key in labels
        if op == "!":
            return self.key not in labels
        if op in (">", "<"):
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except (KeyError, ValueError):
                return False
            return have > want if op == ">" else have < want
        return False  # pragma: no cover - operators are validated on construction


@dataclass(frozen=True)
class LabelSelector:
    """A conjunction of label requirements; the empty selector matches everything."""

    requirements: tuple[LabelRequirement, ...] = ()
    nothing: bool = False  # a selector that matches nothing (e.g. an explicit null selector)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def _read(self) -> str:
        if self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            return ch
        self.pos += 1
        return ""

    def tokens(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos >= len(self.text):
                out.append((_END, ""))
                return out
            ch = self.text[self.pos]
            if ch in _SPECIAL:
                # Longest operator made of special symbols (so "!=" beats "!").
                buf, last = "", None
                while self.pos < len(self.text) and self.text[self.pos] in _SPECIAL:
                    candidate = buf + self.text[self.pos]
                    if candidate in _KEYWORDS:
                        buf, last = candidate, candidate
                        self.pos += 1
                    elif last is not None:
                        break
                    else:
                        buf = candidate
                        self.pos += 1
                if last is None:
                    out.append((_ERROR, f"error expected: keyword found '{buf}'"))
                else:
                    out.append((_KEYWORDS[last], last))
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] not in _SPECIAL | _WHITESPACE:
                    self.pos += 1
                word = self.text[start:self.pos]
                out.append((_KEYWORDS.get(word, _IDENT) if word in ("in", "notin") else _IDENT, word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _Lexer(text).tokens()
        self.pos = 0

    def _look(self, values: bool) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if values and tok in ("in", "notin"):
            tok = _IDENT
        return tok, lit

    def _take(self, values: bool) -> tuple[str, str]:
        tok, lit = self._look(values)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[LabelRequirement]:
        reqs: list[LabelRequirement] = []
        while True:
            tok, lit = self._look(True)
            if tok == _END:
                return reqs
            if tok not in (_IDENT, "!"):
                raise ValueError(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self._requirement())
            except ValueError as exc:
                raise ValueError(f"unable to parse requirement: {exc}") from None
            tok, lit = self._take(True)
            if tok == _END:
                return reqs
            if tok != ",":
                raise ValueError(f"found '{lit}', expected: ',' or 'end of string'")
            tok2, lit2 = self._look(True)
            if tok2 not in (_IDENT, "!"):
                raise ValueError(f"found '{lit2}', expected: identifier after ','")

    def _requirement(self) -> LabelRequirement:
        tok, key = self._take(True)
        negated = tok == "!"
        if negated:
            tok, key = self._take(True)
        if tok != _IDENT:
            raise ValueError(f"found '{key}', expected: identifier")
        _check_label_key(key)
        if negated or self._look(True)[0] in (_END, ","):
            # "!key=value" ends the requirement at "key"; parse() then rejects the "=".
            return LabelRequirement(key, "!" if negated else "exists")
        tok, lit = self._take(False)
        if tok not in ("in", "notin", "=", "==", "!=", ">", "<"):
            raise ValueError(f"found '{lit}', expected: '=', '!=', '==', 'in', notin'")
        values = self._set_values() if tok in ("in", "notin") else self._exact_value()
        for v in values:
            _check_label_value(v)
        if tok in (">", "<"):
            try:
                int(values[0])
            except ValueError:
                raise ValueError(f"for 'Gt', 'Lt' operators, the value must be an integer: {values[0]!r}") from None
        return LabelRequirement(key, tok, values)

    def _exact_value(self) -> tuple[str, ...]:
        tok, lit = self._look(True)
        if tok in (_END, ","):
            return ("",)
        tok, lit = self._take(True)
        if tok == _IDENT:
            return (lit,)
        raise ValueError(f"found '{lit}', expected: identifier")

    def _set_values(self) -> tuple[str, ...]:
        tok, lit = self._take(True)
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self._look(True)
        if tok == ")":
            self._take(True)
            return ("",)
        if tok not in (_IDENT, ","):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            tok, lit = self._take(True)
            if tok == _IDENT:
                values.append(lit)
                tok2, lit2 = self._look(True)
                if tok2 == ",":
                    self._take(True)
                    if self._look(True)[0] == ")":
                        values.append("")
                    continue
                if tok2 == ")":
                    self._take(True)
                    return tuple(dict.fromkeys(values))
                raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            if tok == ",":
                values.append("")  # "(,a)" and "(a,,b)" mean the empty value too
                if self._look(True)[0] == ")":
                    self._take(True)
                    return tuple(dict.fromkeys(values))
                continue
            if tok == ")":
                return tuple(dict.fromkeys(values))
            raise ValueError(f"found '{lit}', expected: ',', or identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `app=web,tier in (a,b),!legacy`; raise ValueError with the apimachinery message."""
    if not text or not text.strip():
        return LabelSelector()
    reqs = _Parser(text).parse()
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


_EXPRESSION_OPS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a metav1.LabelSelector (`matchLabels`, `matchExpressions`) to a LabelSelector.

    As in `metav1.LabelSelectorAsSelector`: None matches nothing, `{}` matches everything.
    """
    if sel is None:
        return LabelSelector(nothing=True)
    reqs: list[LabelRequirement] = []
    for key, value in (sel.get("matchLabels") or {}).items():
        _check_label_key(key)
        _check_label_value(str(value))
        reqs.append(LabelRequirement(key, "=", (str(value),)))
    for expr in sel.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = tuple(str(v) for v in expr.get("values") or [])
        if op not in _EXPRESSION_OPS:
            raise ValueError(f"{op!r} is not a valid label selector operator")
        if op in ("In", "NotIn") and not values:
            raise ValueError("for 'in', 'notin' operators, values set can't be empty")
        if op in ("Exists", "DoesNotExist") and values:
            raise ValueError("values set must be empty for exists and does not exist")
        _check_label_key(key)
        reqs.append(LabelRequirement(key, _EXPRESSION_OPS[op], values))
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


# Fields every resource supports, plus the ones the kube-apiserver adds for the kinds Finplane
# watches (pods: status.phase, spec.nodeName; events: involvedObject.*, type, reason; secrets: type).
DEFAULT_FIELD_LABELS: frozenset[str] = frozenset({
    "metadata.name", "metadata.namespace",
    "status.phase", "spec.nodeName", "spec.serviceAccountName", "type", "reason", "source",
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
})


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        have = _field_value(obj, self.field)
        return (have == self.value) if self.operator == "=" else (have != self.value)


@dataclass(frozen=True)
class FieldSelector:
    """A conjunction of `field=value` / `field!=value` terms; empty matches everything."""

    requirements: tuple[FieldRequirement, ...] = field(default=())

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    # The real server builds a flat fields.Set per object; absent fields read as "".
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return ""
        cur = cur[part]
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, buf, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: str | None, *, allowed: Collection[str] | None = None) -> FieldSelector:
    """Parse `metadata.name=x,status.phase!=Running`.

    Raises ValueError for bad syntax ("invalid selector: ...") and for fields the resource
    does not support ("field label not supported: X"); `allowed` overrides the default set.
    """
    if not text or not text.strip():
        return FieldSelector()
    supported = DEFAULT_FIELD_LABELS if allowed is None else allowed
    reqs: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if term == "":
            continue  # apimachinery's fields.parseSelector skips empty terms ("a=b," and ",a=b" parse)
        for op in ("!=", "==", "="):
            idx = _find_unescaped(term, op)
            if idx >= 0:
                lhs, rhs = term[:idx].strip(), term[idx + len(op):]
                break
        else:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{term}'")
        if lhs not in supported:
            raise ValueError(f"field label not supported: {lhs}")
        reqs.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape(rhs)))
    return FieldSelector(tuple(reqs))


def _find_unescaped(text: str, op: str) -> int:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(op, i):
            return i
        i += 1
    return -1
