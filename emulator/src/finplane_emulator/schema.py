"""CRD structural schema validation, defaulting and pruning, as the kube-apiserver does them.

The embedded API server calls, on every create/update/patch of a custom resource:
`prune` (drop unknown fields), then `apply_defaults`, then `validate` (returns `FieldError`s),
and turns errors into a 422 body with `invalid_status`. `compile_schema(schema)` does the
expensive work once per schema (regexes, CEL programs) and is cached by the schema object;
the plain functions are wrappers around it. Messages mirror k8s.io/kube-openapi's validator as
converted by k8s.io/apiextensions-apiserver and k8s.io/apimachinery/.../field/errors.go.
Pure: no I/O. The walk itself lives in schema_walk.py; errors in schema_errors.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finplane_emulator.schema_errors import FieldError, aggregate_message, invalid_status
from finplane_emulator.schema_walk import SchemaNode, build_node, default_value, prune_value, validate_value

__all__ = [
    "CompiledSchema",
    "FieldError",
    "SchemaCompileError",
    "aggregate_message",
    "apply_defaults",
    "compile_schema",
    "invalid_status",
    "prune",
    "schema_errors",
    "validate",
]


class SchemaCompileError(ValueError):
    """A schema whose CEL rules or patterns cannot be compiled; `.errors` lists FieldErrors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(aggregate_message(errors))
        self.errors = errors


class CompiledSchema:
    """A structural schema compiled once: validate, apply_defaults and prune objects with it."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        problems: list[FieldError] = []
        self.root: SchemaNode = build_node(schema, path="openAPIV3Schema", problems=problems, root=True)
        self.problems = problems

    def validate(self, obj: Any, *, old: Any = None) -> list[FieldError]:
        """All field errors of `obj` (transition rules use `old`, only on update)."""
        errors: list[FieldError] = []
        validate_value(self.root, obj, old, path="", errors=errors, has_old=old is not None)
        return errors

    def apply_defaults(self, obj: Any) -> Any:
        """A copy of `obj` with schema defaults filled in and non-nullable nulls handled."""
        return default_value(self.root, obj)

    def prune(self, obj: Any, *, removed: list[str] | None = None) -> Any:
        """A copy of `obj` without fields the schema does not know (paths appended to `removed`)."""
        return prune_value(self.root, obj, path="", removed=removed)


_CACHE: dict[int, CompiledSchema] = {}


def compile_schema(schema: Mapping[str, Any], *, strict: bool = False) -> CompiledSchema:
    """Compile (and cache by identity) a schema; with strict=True raise on bad CEL rules/patterns."""
    compiled = _CACHE.get(id(schema))
    if compiled is None or compiled.schema is not schema:
        compiled = CompiledSchema(schema)
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[id(schema)] = compiled  # the compiled object holds the schema: its id stays unique
    if strict and compiled.problems:
        raise SchemaCompileError(compiled.problems)
    return compiled


def schema_errors(schema: Mapping[str, Any], *, path: str = "spec.versions[0].schema.openAPIV3Schema") -> list[FieldError]:
    """Problems that make a CRD schema unusable (uncompilable CEL rules, bad patterns).

    The real server refuses such a CRD at creation with these errors (422).
    """
    problems = CompiledSchema(schema).problems
    return [FieldError(p.type, p.field.replace("openAPIV3Schema", path, 1), p.bad_value, p.detail) for p in problems]


def validate(schema: Mapping[str, Any], obj: Any, *, old: Any = None) -> list[FieldError]:
    return compile_schema(schema).validate(obj, old=old)


def apply_defaults(schema: Mapping[str, Any], obj: Any) -> Any:
    return compile_schema(schema).apply_defaults(obj)


def prune(schema: Mapping[str, Any], obj: Any, *, removed: list[str] | None = None) -> Any:
    return compile_schema(schema).prune(obj, removed=removed)
