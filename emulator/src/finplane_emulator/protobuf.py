"""Decode the protobuf request bodies kubectl 1.32+ sends for a few built-in kinds (used by http.py).

kubectl 1.32 and later send `kubectl create namespace|configmap|secret|serviceaccount|deployment`
(typed client-go calls) as `application/vnd.kubernetes.protobuf`: the 4-byte magic `k8s\\0`, then a
`runtime.Unknown` envelope whose `typeMeta` names the kind and whose `raw` holds the object.
A real kube-apiserver decodes every built-in kind; this server knows the field numbers (from
k8s.io/api and k8s.io/apimachinery `generated.proto`) of the kinds in `MESSAGES` only and
answers 415 UnsupportedMediaType for the others, which the docs list as a gap. The result is
the object as its JSON form would be, with Go's `omitempty` applied (protobuf writes every
scalar, zero or not). Pure: no I/O.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["MAGIC", "ProtobufError", "decode"]

MAGIC = b"k8s\x00"

# A message: field number -> (JSON name, type). Types: "string", "bytes", "int", "bool", "time",
# "fieldsV1", "[string]" (repeated), "{string}" / "{bytes}" (map<string, T>), or a message
# name (in MESSAGES), "[Name]" for a repeated one; "int!" is an optional (pointer) integer whose
# zero is a value. A field missing from a table is refused (415) unless it holds only zeros, so
# nothing a client sends is silently lost.
MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "rawbytes"), 3: ("contentEncoding", "string"),
                4: ("contentType", "string")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
                   7: ("generation", "int"), 8: ("creationTimestamp", "time"), 9: ("deletionTimestamp", "time"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "{string}"),
                   12: ("annotations", "{string}"), 13: ("ownerReferences", "[OwnerReference]"),
                   14: ("finalizers", "[string]"), 17: ("managedFields", "[ManagedFieldsEntry]")},
    "OwnerReference": {5: ("apiVersion", "string"), 1: ("kind", "string"), 3: ("name", "string"),
                       4: ("uid", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "ManagedFieldsEntry": {1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
                           4: ("time", "time"), 6: ("fieldsType", "string"), 7: ("fieldsV1", "fieldsV1"),
                           8: ("subresource", "string")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec")},
    "NamespaceSpec": {1: ("finalizers", "[string]")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 4: ("immutable", "bool"), 2: ("data", "{string}"),
                  3: ("binaryData", "{bytes}")},
    "Secret": {1: ("metadata", "ObjectMeta"), 5: ("immutable", "bool"), 2: ("data", "{bytes}"),
               4: ("stringData", "{string}"), 3: ("type", "string")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 2: ("secrets", "[ObjectReference]"),
                       3: ("imagePullSecrets", "[LocalObjectReference]"),
                       4: ("automountServiceAccountToken", "bool")},
    "ObjectReference": {1: ("kind", "string"), 2: ("namespace", "string"), 3: ("name", "string"),
                        4: ("uid", "string"), 5: ("apiVersion", "string"), 6: ("resourceVersion", "string"),
                        7: ("fieldPath", "string")},
    "LocalObjectReference": {1: ("name", "string")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", "[string]")},
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
    # What `kubectl create deployment NAME --image=I [--port=P] [--replicas=N] [-- COMMAND]` sends.
    "Deployment": {1: ("metadata", "ObjectMeta"), 2: ("spec", "DeploymentSpec")},
    "DeploymentSpec": {1: ("replicas", "int!"), 2: ("selector", "LabelSelector"), 3: ("template", "PodTemplateSpec"),
                       4: ("strategy", "DeploymentStrategy"), 5: ("minReadySeconds", "int"),
                       6: ("revisionHistoryLimit", "int!"), 7: ("paused", "bool"),
                       9: ("progressDeadlineSeconds", "int!")},
    "DeploymentStrategy": {1: ("type", "string")},
    "LabelSelector": {1: ("matchLabels", "{string}"), 2: ("matchExpressions", "[LabelSelectorRequirement]")},
    "LabelSelectorRequirement": {1: ("key", "string"), 2: ("operator", "string"), 3: ("values", "[string]")},
    "PodTemplateSpec": {1: ("metadata", "ObjectMeta"), 2: ("spec", "PodSpec")},
    "PodSpec": {2: ("containers", "[Container]")},
    "Container": {1: ("name", "string"), 2: ("image", "string"), 3: ("command", "[string]"), 4: ("args", "[string]"),
                  5: ("workingDir", "string"), 6: ("ports", "[ContainerPort]"), 7: ("env", "[EnvVar]"),
                  13: ("terminationMessagePath", "string"), 14: ("imagePullPolicy", "string"),
                  20: ("terminationMessagePolicy", "string")},
    "ContainerPort": {1: ("name", "string"), 2: ("hostPort", "int"), 3: ("containerPort", "int"),
                      4: ("protocol", "string"), 5: ("hostIP", "string")},
    "EnvVar": {1: ("name", "string"), 2: ("value", "string")},
}
# Kinds whose whole body is decoded (typeMeta.kind of the envelope).
KINDS = frozenset({"Namespace", "ConfigMap", "Secret", "ServiceAccount", "Deployment", "DeleteOptions"})


class ProtobufError(ValueError):
    """The body is not a protobuf message this server can read (answered 415 or 400)."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited fields."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ProtobufError("truncated field")
            out.append((number, buf[pos:pos + size]))
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _is_zero(value: int | bytes) -> bool:
    """A zero scalar, or an embedded message whose fields are all zero (how Go writes an empty struct)."""
    if isinstance(value, int):
        return value == 0
    if not value:
        return True
    try:
        return all(_is_zero(inner) for _, inner in _fields(value))
    except ProtobufError:
        return False  # not a message: a non-empty string or bytes


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited field")
    return value.decode("utf-8")


def _time(raw: bytes) -> str | None:
    seconds = 0
    for number, value in _fields(raw):
        if number == 1 and isinstance(value, int):
            seconds = value - (1 << 64) if value >= 1 << 63 else value
    if not seconds:
        return None  # the zero Time: JSON null, i.e. absent
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind == "string":
        return _text(value)
    if kind == "bytes":
        return base64.b64encode(value if isinstance(value, bytes) else b"").decode()
    if kind == "rawbytes":
        return value
    if kind in ("int", "int!"):
        number = int(value) if isinstance(value, int) else 0
        return number - (1 << 64) if number >= 1 << 63 else number
    if kind == "bool":
        return bool(value)
    if kind == "time":
        return _time(value) if isinstance(value, bytes) else None
    if kind == "fieldsV1":
        raw = dict(_fields(value)).get(1, b"") if isinstance(value, bytes) else b""
        return json.loads(raw) if raw else None
    if not isinstance(value, bytes):
        raise ProtobufError(f"expected an embedded {kind} message")
    return _message(kind, value)


def _message(name: str, buf: bytes) -> dict[str, Any]:
    spec = MESSAGES[name]
    out: dict[str, Any] = {}
    for number, value in _fields(buf):
        if number not in spec:
            if not _is_zero(value):
                raise ProtobufError(f"field {number} of {name} is not read by this server", unsupported=True)
            continue  # Go writes every non-pointer field, zero or not: nothing is lost
        key, kind = spec[number]
        if kind.startswith("{"):
            entry = dict(_fields(value if isinstance(value, bytes) else b""))
            mapped = _scalar(kind[1:-1], entry.get(2, b""))
            out.setdefault(key, {})[_text(entry.get(1, b""))] = mapped
        elif kind.startswith("["):
            out.setdefault(key, []).append(_scalar(kind[1:-1], value))
        else:
            decoded = _scalar(kind, value)
            if decoded in ("", 0, False, None, {}) and kind not in ("rawbytes", "int!"):
                out.pop(key, None)  # Go's omitempty: protobuf carries zero values, JSON leaves them out
            else:
                out[key] = decoded
    return out


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object; ProtobufError when it cannot be read."""
    if not body.startswith(MAGIC):
        raise ProtobufError("the body lacks the protobuf magic prefix")
    envelope = _message("Unknown", body[len(MAGIC):])
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"unsupported content encoding {envelope['contentEncoding']!r}", unsupported=True)
    if kind not in KINDS:
        raise ProtobufError(f"this server reads protobuf bodies of {', '.join(sorted(KINDS))} only, not "
                            f"{kind or 'an unnamed kind'}: send application/json", unsupported=True)
    obj = _message(kind, envelope.get("raw") or b"")
    return {**({"apiVersion": type_meta["apiVersion"]} if type_meta.get("apiVersion") else {}),
            "kind": kind, **obj}
