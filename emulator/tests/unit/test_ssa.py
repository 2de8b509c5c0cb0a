"""Server-side apply and managedFields bookkeeping.

Covers: creating by apply, FieldsV1 encoding (f:, k:{...}, v:, "."), merging associative lists
by key, removal of fields a manager stops applying (kept when another manager owns them),
conflicts with Update managers and other appliers (message and causes), force moving
ownership (the drift-repair path of the operator), no-op applies returning an identical
object, status kept out of main-resource applies, CRD list types from the schema, and
record_update for create/update (gain, loss, dropping empty entries, ignored metadata).
"""

import copy

import pytest

from finplane_emulator.ssa import ApplyConflict, apply, record_update

OP = "finplane-operator"


def deployment(replicas=2, image="reg/pay:1", labels=None, containers=None):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "pay", "namespace": "team-a", "labels": labels or {"app": "pay"}},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": containers or [
            {"name": "app", "image": image, "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}},
    }


def do_apply(live, cfg, manager=OP, force=False, now="2025-01-01T00:00:00Z", **kw):
    return apply(live, cfg, manager=manager, force=force, group=kw.pop("group", "apps"),
                 kind=kw.pop("kind", "Deployment"), now=now, **kw)


def entry(obj, manager):
    return next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def human_edit(obj, change, manager="kubectl-edit", now="2025-01-02T00:00:00Z"):
    new = copy.deepcopy(obj)
    change(new)
    return record_update(obj, new, manager=manager, operation="Update", now=now)


def test_apply_creates_the_object_and_records_fields_v1_like_the_real_server():
    """Mirrors managedFields of an apply: f: fields, k:{...} list items with ".", no identity metadata."""
    obj = do_apply(None, deployment())
    assert obj["spec"]["replicas"] == 2
    (mf,) = obj["metadata"]["managedFields"]
    assert mf == {
        "manager": OP, "operation": "Apply", "apiVersion": "apps/v1", "time": "2025-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {'k:{"name":"app"}': {
                ".": {}, "f:image": {}, "f:name": {},
                "f:ports": {'k:{"containerPort":8080,"protocol":"TCP"}': {
                    ".": {}, "f:containerPort": {}, "f:protocol": {}}}}}}}},
        },
    }


def test_applying_the_same_configuration_twice_returns_an_identical_object():
    """Mirrors the no-op apply: nothing changes, not even the manager's timestamp."""
    first = do_apply(None, deployment())
    again = do_apply(first, deployment(), now="2030-01-01T00:00:00Z")
    assert again == first


def test_apply_merges_containers_by_name_and_keeps_fields_of_other_managers():
    live = do_apply(None, deployment())
    live = human_edit(live, lambda o: o["spec"]["template"]["spec"]["containers"].append({"name": "debug", "image": "busybox"}))
    out = do_apply(live, deployment(image="reg/pay:2"))
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "reg/pay:2"), ("debug", "busybox")]


def test_fields_no_longer_applied_are_removed():
    """Mirrors SSA: a manager that drops a field from its config deletes it (when nobody else owns it)."""
    live = do_apply(None, deployment(labels={"app": "pay", "tier": "back"}))
    out = do_apply(live, deployment(labels={"app": "pay"}))
    assert out["metadata"]["labels"] == {"app": "pay"}
    assert "f:tier" not in entry(out, OP)["fieldsV1"]["f:metadata"]["f:labels"]


def test_list_items_no_longer_applied_are_removed_whole():
    two = [{"name": "app", "image": "a"}, {"name": "proxy", "image": "p"}]
    live = do_apply(None, deployment(containers=two))
    out = do_apply(live, deployment(containers=[{"name": "app", "image": "a"}]))
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "app", "image": "a"}]


def test_fields_shared_with_another_applier_survive_when_one_stops_applying_them():
    """Mirrors shared ownership: two appliers setting the same value both own it."""
    live = do_apply(None, deployment(labels={"app": "pay", "shared": "x"}))
    live = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pay", "labels": {"shared": "x"}}},
                    manager="other")
    out = do_apply(live, deployment(labels={"app": "pay"}))
    assert out["metadata"]["labels"] == {"app": "pay", "shared": "x"}


def test_changing_a_field_owned_by_an_update_manager_is_a_conflict():
    """Mirrors the 409 message 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas'."""
    live = do_apply(None, deployment())
    live = human_edit(live, lambda o: o["spec"].update(replicas=5), manager="kubectl-client-side-apply")
    for e in live["metadata"]["managedFields"]:
        e.pop("time")  # the real message adds "at <time>" when the entry has one
    with pytest.raises(ApplyConflict) as err:
        do_apply(live, deployment(replicas=3))
    assert err.value.conflicts == [(".spec.replicas", "kubectl-client-side-apply")]
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                                 "using apps/v1: .spec.replicas")


def test_conflict_message_names_the_update_time_and_lists_several_conflicts():
    """Mirrors getConflictMessage/printManager for several conflicts."""
    live = do_apply(None, deployment())
    live = human_edit(live, lambda o: (o["spec"].update(replicas=5), o["metadata"]["labels"].update(app="x")))
    with pytest.raises(ApplyConflict) as err:
        do_apply(live, deployment(replicas=3))
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using apps/v1 at 2025-01-02T00:00:00Z:\n'
        "- .metadata.labels.app\n- .spec.replicas")


def test_applying_the_value_another_manager_already_set_is_not_a_conflict():
    live = do_apply(None, deployment())
    live = human_edit(live, lambda o: o["spec"].update(replicas=5))
    out = do_apply(live, deployment(replicas=5))
    assert out["spec"]["replicas"] == 5


def test_forced_apply_repairs_drift_and_takes_ownership_back():
    """Mirrors force=true: the field returns to the applied value and leaves the other manager."""
    live = do_apply(None, deployment())
    drifted = human_edit(live, lambda o: o["spec"].update(replicas=5))
    assert entry(drifted, "kubectl-edit")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(drifted, OP)["fieldsV1"]["f:spec"]
    repaired = do_apply(drifted, deployment(), force=True, now="2025-01-03T00:00:00Z")
    assert repaired["spec"]["replicas"] == 2
    assert [e["manager"] for e in repaired["metadata"]["managedFields"]] == [OP]
    assert "f:replicas" in entry(repaired, OP)["fieldsV1"]["f:spec"]


def test_conflict_with_another_applier_is_reported_without_a_version():
    live = do_apply(None, deployment(), manager="team-tool")
    with pytest.raises(ApplyConflict) as err:
        do_apply(live, deployment(replicas=4))
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "team-tool": .spec.replicas'


def test_main_resource_apply_ignores_status_and_status_apply_touches_only_status():
    """Mirrors the status subresource reset strategy for field managers."""
    live = do_apply(None, {**deployment(), "status": {"replicas": 9}})
    assert "status" not in live and "f:status" not in entry(live, OP)["fieldsV1"]
    out = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pay"},
                          "spec": {"replicas": 100}, "status": {"readyReplicas": 2}},
                   manager="controller", subresource="status")
    assert out["status"] == {"readyReplicas": 2} and out["spec"]["replicas"] == 2
    assert entry(out, "controller")["subresource"] == "status"


def test_custom_resources_merge_lists_by_schema_map_keys_or_replace_atomic_lists():
    """Mirrors x-kubernetes-list-type: map merging by x-kubernetes-list-map-keys; untyped lists atomic."""
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"],
                   "items": {"type": "object", "properties": {"path": {"type": "string"}, "weight": {"type": "integer"}}}},
        "hosts": {"type": "array", "items": {"type": "string"}}}}}}
    base = {"apiVersion": "finplane.io/v1alpha1", "kind": "Channel", "metadata": {"name": "web"}}
    live = apply(None, {**base, "spec": {"routes": [{"path": "/a", "weight": 1}], "hosts": ["a"]}},
                 manager="alice", force=False, group="finplane.io", kind="Channel", now="t", schema=schema)
    out = apply(live, {**base, "spec": {"routes": [{"path": "/b", "weight": 2}]}},
                manager="bob", force=False, group="finplane.io", kind="Channel", now="t", schema=schema)
    assert out["spec"]["routes"] == [{"path": "/a", "weight": 1}, {"path": "/b", "weight": 2}]
    with pytest.raises(ApplyConflict, match=r"\.spec\.hosts"):
        apply(out, {**base, "spec": {"hosts": ["b"]}}, manager="bob", force=False, group="finplane.io",
              kind="Channel", now="t", schema=schema)


def test_finalizers_are_a_set_in_field_ownership():
    live = do_apply(None, {**deployment(), "metadata": {"name": "pay", "finalizers": ["a.io/x"]}})
    assert entry(live, OP)["fieldsV1"]["f:metadata"] == {"f:finalizers": {'v:"a.io/x"': {}}}
    out = do_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "pay", "finalizers": ["b.io/y"]}}, manager="other")
    assert out["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]


def test_record_update_on_create_gives_every_field_to_the_creator():
    """Mirrors managedFields after a plain create: maps created get "." entries; identity metadata is ignored."""
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "c", "namespace": "n", "uid": "u", "resourceVersion": "1", "labels": {"a": "b"}},
           "data": {"k": "v"}}
    out = record_update(None, obj, manager="kubectl-create", operation="Update", now="t")
    assert out["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1", "time": "t", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}}}]


def test_record_update_moves_changed_fields_and_drops_empty_entries():
    obj = record_update(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
                        manager="a", operation="Update", now="t1")
    changed = copy.deepcopy(obj)
    changed["data"] = {"k": "w"}
    out = record_update(obj, changed, manager="b", operation="Update", now="t2")
    by = {e["manager"]: e["fieldsV1"] for e in out["metadata"]["managedFields"]}
    assert by == {"a": {"f:data": {}}, "b": {"f:data": {"f:k": {}}}}
    removed = copy.deepcopy(out)
    removed.pop("data")
    final = record_update(out, removed, manager="b", operation="Update", now="t3")
    assert "managedFields" not in final["metadata"]


def test_record_update_without_changes_keeps_managed_fields_untouched():
    obj = record_update(None, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}},
                        manager="a", operation="Update", now="t1")
    assert record_update(obj, copy.deepcopy(obj), manager="a", operation="Update", now="t2") == obj
    assert record_update(obj, copy.deepcopy(obj), manager="z", operation="Update", now="t2") == obj
