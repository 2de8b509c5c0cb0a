"""The watch-fed child cache (finplane.reconcile.child_cache), sync_children reading from it, and own_writes.

Covers: events never move the cache back in time (older resourceVersions are ignored, a stale
DELETED does not drop a newer object); managedFields keep who wrote, not the field sets; children are found by owner for
pruning; sync_children with a warm cache compares without any request, still GETs a child it has not
seen, and remembers what it applied.
"""

from __future__ import annotations

import asyncio
from typing import Any

from finplane.reconcile.child_cache import ChildCache
from finplane.reconcile.children import OWNER_LABEL, stamp, sync_children
from tests.support.fake_kube import FakeKube

Obj = dict[str, Any]


def svc(rv: str, *, port: int = 80, owner: str = "u1") -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "namespace": "ns", "resourceVersion": rv, "labels": {OWNER_LABEL: owner},
                         "managedFields": [{"manager": "x"}]},
            "spec": {"ports": [{"port": port}]}}


def test_an_older_event_never_replaces_a_newer_object() -> None:
    cache = ChildCache()
    cache.remember(svc("5", port=81))
    cache.observe("MODIFIED", svc("4", port=80))
    assert cache.get("v1", "Service", "a", "ns")["spec"]["ports"][0]["port"] == 81


def test_a_stale_deletion_keeps_the_recreated_object_and_a_fresh_one_drops_it() -> None:
    cache = ChildCache()
    cache.remember(svc("7"))
    cache.observe("DELETED", svc("6"))
    assert cache.get("v1", "Service", "a", "ns") is not None
    cache.observe("DELETED", svc("8"))
    assert cache.get("v1", "Service", "a", "ns") is None
    assert cache.owned("v1", "Service", "u1") == []


def test_managed_fields_keep_only_who_wrote_and_children_are_found_by_owner() -> None:
    cache = ChildCache()
    cache.observe(None, svc("1"))
    got = cache.get("v1", "Service", "a", "ns")
    assert got["metadata"]["managedFields"] == [{"manager": "x", "operation": None, "time": None,
                                                 "subresource": None}]
    assert cache.owned("v1", "Service", "u1", "ns") == [got]
    assert cache.owned("v1", "Service", "u2") == []


def test_sync_children_with_a_warm_cache_sends_no_request_and_remembers_its_writes() -> None:
    owner = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
             "metadata": {"name": "o", "namespace": "ns", "uid": "u1"}}
    desired = [stamp({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "ns"},
                      "spec": {"ports": [{"port": 80}]}}, owner)]
    kube, cache = FakeKube(), ChildCache()
    first = asyncio.run(sync_children(kube, desired, owner_uid="u1", seen_before=False,  # type: ignore[arg-type]
                                      prune_kinds=(("v1", "Service"),), prune_namespaces=("ns",), cache=cache))
    assert first.applied == ["Service/ns/a"] and [(c.verb, c.kind) for c in kube.calls] == [
        ("get", "Service"), ("apply", "Service")]
    kube.calls.clear()
    again = asyncio.run(sync_children(kube, desired, owner_uid="u1", seen_before=True,  # type: ignore[arg-type]
                                      prune_kinds=(("v1", "Service"),), prune_namespaces=("ns",), cache=cache))
    assert not again.wrote and kube.calls == []


def test_a_pass_older_than_our_own_status_write_is_skipped_until_the_echo_arrives() -> None:
    from finplane.reconcile.own_writes import OwnWrites

    def cap(rv: str) -> Obj:
        return {"metadata": {"name": "c", "namespace": "ns", "resourceVersion": rv}}

    tracker = OwnWrites()
    assert not tracker.pending(cap("3"))
    tracker.note(cap("5"))
    assert tracker.pending(cap("4"))
    assert not tracker.pending(cap("5")) and len(tracker) == 0
    tracker.note({"metadata": {"name": "c", "namespace": "ns", "resourceVersion": "opaque"}})
    assert not tracker.pending(cap("1"))


def test_only_news_wakes_the_owner() -> None:
    """The echo of an own apply (a version already cached) is not news; a newer version, an unseen
    object and a deletion are (Deployment status, drift by someone else, a child deleted by hand)."""
    cache = ChildCache()
    assert cache.observe("ADDED", svc("3")) is True  # never seen
    cache.remember(svc("5", port=81))  # what our own apply returned
    assert cache.observe("MODIFIED", svc("5", port=81)) is False  # its echo
    assert cache.observe("MODIFIED", svc("4")) is False  # older than what we have
    assert cache.get("v1", "Service", "a", "ns")["spec"]["ports"][0]["port"] == 81
    assert cache.observe("MODIFIED", svc("6", port=99)) is True  # someone else's edit
    assert cache.get("v1", "Service", "a", "ns")["spec"]["ports"][0]["port"] == 99
    assert cache.observe("DELETED", svc("7")) is True
    opaque = svc("x")
    assert cache.observe("ADDED", opaque) is True and cache.observe("MODIFIED", opaque) is True
