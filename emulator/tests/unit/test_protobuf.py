"""Decoding the protobuf bodies kubectl 1.32+ sends: the `k8s\\0` magic, the runtime.Unknown envelope, and
the object read as its JSON form would be. Mirrors the kube-apiserver's protobuf serializer for the kinds this
server reads (Go writes every scalar in protobuf, zero or not, and leaves zero values out of JSON)."""

from __future__ import annotations

import base64

import pytest

from finplane_emulator.protobuf import ProtobufError, decode


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _ld(number: int, payload: bytes) -> bytes:
    return _uvarint(number << 3 | 2) + _uvarint(len(payload)) + payload


def _varint(number: int, value: int) -> bytes:
    return _uvarint(number << 3) + _uvarint(value)


def _envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    return b"k8s\x00" + _ld(1, _ld(1, api_version) + _ld(2, kind)) + _ld(2, raw) + _ld(3, b"") + _ld(4, b"")


def _entry(key: bytes, value: bytes) -> bytes:
    return _ld(1, key) + _ld(2, value)


def test_a_config_map_reads_like_its_json_with_zero_values_left_out():
    metadata = (_ld(1, b"settings") + _ld(2, b"") + _ld(3, b"team-a") + _ld(6, b"") + _varint(7, 0) + _ld(8, b"")
                + _ld(11, _entry(b"tier", b"gold")) + _ld(14, b"example.com/keep"))
    raw = _ld(1, metadata) + _ld(2, _entry(b"mode", b"fast")) + _ld(2, _entry(b"empty", b"")) + _ld(3, _entry(b"bin", b"\x00\x01"))
    obj = decode(_envelope(b"v1", b"ConfigMap", raw))
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "settings", "namespace": "team-a", "labels": {"tier": "gold"},
                                "finalizers": ["example.com/keep"]},
                   "data": {"mode": "fast", "empty": ""}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}


def test_secret_data_becomes_base64_and_the_type_is_kept():
    raw = _ld(1, _ld(1, b"creds")) + _ld(2, _entry(b"password", b"hunter2")) + _ld(3, b"Opaque")
    obj = decode(_envelope(b"v1", b"Secret", raw))
    assert obj["data"] == {"password": base64.b64encode(b"hunter2").decode()} and obj["type"] == "Opaque"


def test_a_deployment_keeps_an_explicit_zero_replicas_and_its_container():
    container = _ld(1, b"app") + _ld(2, b"nginx") + _ld(6, _varint(3, 80)) + _ld(8, b"") + _varint(16, 0)
    template = _ld(1, _ld(11, _entry(b"app", b"web"))) + _ld(2, _ld(2, container) + _ld(3, b"") + _varint(11, 0))
    spec = _varint(1, 0) + _ld(2, _ld(1, _entry(b"app", b"web"))) + _ld(3, template) + _ld(4, b"") + _varint(5, 0)
    obj = decode(_envelope(b"apps/v1", b"Deployment", _ld(1, _ld(1, b"web")) + _ld(2, spec) + _ld(3, _ld(1, b""))))
    assert obj["spec"] == {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "app", "image": "nginx",
                                                                 "ports": [{"containerPort": 80}]}]}}}


def test_a_field_the_server_does_not_read_is_refused_unless_it_holds_only_zeros():
    """Nothing a client sends is silently dropped: an unread, non-zero field (here a pod's volumes) is a 415."""
    volumes = _ld(1, _ld(1, b"data"))
    template = _ld(2, _ld(1, volumes) + _ld(2, _ld(1, b"app")))
    with pytest.raises(ProtobufError) as caught:
        decode(_envelope(b"apps/v1", b"Deployment", _ld(2, _ld(3, template))))
    assert caught.value.unsupported and "field 1 of PodSpec" in str(caught.value)


def test_a_kind_without_a_field_table_is_unsupported_and_garbage_is_an_error():
    with pytest.raises(ProtobufError) as caught:
        decode(_envelope(b"v1", b"Service", b""))
    assert caught.value.unsupported
    with pytest.raises(ProtobufError) as caught:
        decode(b"{}")
    assert not caught.value.unsupported
