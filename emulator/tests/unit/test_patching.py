"""JSON merge patch, JSON patch and strategic merge patch bodies.

Covers: RFC 7386 merge semantics (null deletes, lists replaced), RFC 6902 operations and the
400/422 split for bad or failing patches, strategic merge patch with the merge keys of the
built-in types (containers and env by name, container ports by containerPort, Service ports by
port, volumes by name, volumeMounts by mountPath, ownerReferences by uid, conditions by type,
finalizers as a merged set), its directives ($patch, $retainKeys, $deleteFromPrimitiveList,
$setElementOrder) and the 415 answer for custom resources.
"""

import copy

import pytest

from finplane_emulator.patching import PatchError, json_merge_patch, json_patch, strategic_merge_patch

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "pay",
        "labels": {"app": "pay", "tier": "back"},
        "finalizers": ["a.example/x"],
        "ownerReferences": [{"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
                             "name": "pay", "uid": "u1"}],
    },
    "spec": {
        "replicas": 2,
        "template": {
            "metadata": {"labels": {"app": "pay"}},
            "spec": {
                "containers": [
                    {"name": "app", "image": "reg/pay:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 8080, "name": "http"}],
                     "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]},
                    {"name": "proxy", "image": "reg/proxy:1"},
                ],
                "volumes": [{"name": "cfg", "configMap": {"name": "pay"}}],
                "tolerations": [{"key": "a", "operator": "Exists"}],
            },
        },
    },
    "status": {"conditions": [{"type": "Available", "status": "False"},
                              {"type": "Progressing", "status": "True"}]},
}


def smp(patch, target=DEPLOYMENT, group="apps", kind="Deployment"):
    return strategic_merge_patch(target, patch, group=group, kind=kind)


def test_merge_patch_merges_maps_deletes_nulls_and_replaces_lists():
    """Mirrors RFC 7386 as used for application/merge-patch+json."""
    out = json_merge_patch(DEPLOYMENT, {
        "metadata": {"labels": {"tier": None, "new": "x"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only"}]}}},
    })
    assert out["metadata"]["labels"] == {"app": "pay", "new": "x"}
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]
    assert out["spec"]["replicas"] == 2


def test_merge_patch_never_mutates_its_inputs():
    before = copy.deepcopy(DEPLOYMENT)
    json_merge_patch(DEPLOYMENT, {"spec": {"replicas": 5}})
    smp({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "z"}]}}}})
    json_patch(DEPLOYMENT, [{"op": "replace", "path": "/spec/replicas", "value": 9}])
    assert DEPLOYMENT == before


def test_json_patch_applies_operations_in_order():
    """Mirrors RFC 6902 (application/json-patch+json)."""
    out = json_patch({"spec": {"items": [1, 2]}}, [
        {"op": "add", "path": "/spec/items/-", "value": 3},
        {"op": "remove", "path": "/spec/items/0"},
        {"op": "test", "path": "/spec/items/0", "value": 2},
        {"op": "copy", "from": "/spec/items", "path": "/spec/copy"},
        {"op": "move", "from": "/spec/copy", "path": "/moved"},
        {"op": "replace", "path": "/spec/items/1", "value": 30},
    ])
    assert out == {"spec": {"items": [2, 30]}, "moved": [2, 3]}


def test_json_patch_that_cannot_be_applied_is_unprocessable():
    """Mirrors the real server: a failing test op or a missing path answers 422."""
    with pytest.raises(PatchError) as err:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert err.value.code == 422
    with pytest.raises(PatchError) as err:
        json_patch({"a": 1}, [{"op": "remove", "path": "/missing"}])
    assert err.value.code == 422


def test_json_patch_that_is_not_a_list_of_operations_is_a_bad_request():
    """Mirrors the real server: an undecodable JSON patch answers 400."""
    for bad in ({"op": "add"}, [{"op": "frobnicate", "path": "/a"}], [{"op": "add", "value": 1}]):
        with pytest.raises(PatchError) as err:
            json_patch({}, bad)
        assert err.value.code == 400


def test_strategic_patch_merges_containers_by_name_and_env_by_name():
    """Mirrors PodSpec.containers (patchMergeKey name) and Container.env (patchMergeKey name)."""
    out = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "reg/pay:2", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
    ]}}}})
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "proxy"]
    assert containers[0]["image"] == "reg/pay:2"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                                    {"name": "C", "value": "3"}]
    assert containers[0]["ports"] == [{"containerPort": 8080, "name": "http"}]


def test_strategic_patch_merges_ports_mounts_and_volumes_by_their_keys():
    """Mirrors ports (containerPort), volumeMounts (mountPath) and volumes (name) merge keys."""
    out = smp({"spec": {"template": {"spec": {
        "containers": [{"name": "app",
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090}],
                        "volumeMounts": [{"mountPath": "/data", "name": "data"}]}],
        "volumes": [{"name": "data", "emptyDir": {}}],
    }}}})
    pod = out["spec"]["template"]["spec"]
    assert pod["containers"][0]["ports"] == [{"containerPort": 8080, "name": "http", "protocol": "TCP"},
                                             {"containerPort": 9090}]
    assert [m["mountPath"] for m in pod["containers"][0]["volumeMounts"]] == ["/etc/cfg", "/data"]
    assert [v["name"] for v in pod["volumes"]] == ["cfg", "data"]


def test_strategic_patch_replaces_lists_without_a_patch_strategy():
    """Mirrors PodSpec.tolerations, which carries no patchStrategy: the list is replaced."""
    out = smp({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}})
    assert out["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_service_ports_merge_by_port_number():
    """Mirrors ServiceSpec.ports (patchMergeKey port)."""
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}]}}
    out = smp({"spec": {"ports": [{"port": 80, "targetPort": 9090}, {"port": 443}]}},
              target=svc, group="", kind="Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "name": "http"}, {"port": 443}]


def test_service_account_image_pull_secrets_are_replaced_not_merged():
    """Mirrors ServiceAccount.imagePullSecrets, an atomic list: a strategic patch replaces it."""
    sa = {"imagePullSecrets": [{"name": "old"}], "secrets": [{"name": "tok"}]}
    out = smp({"imagePullSecrets": [{"name": "ecr"}], "secrets": [{"name": "tok2"}]},
              target=sa, group="", kind="ServiceAccount")
    assert out["imagePullSecrets"] == [{"name": "ecr"}]
    assert out["secrets"] == [{"name": "tok"}, {"name": "tok2"}]


def test_owner_references_merge_by_uid_and_finalizers_merge_as_a_set():
    """Mirrors ObjectMeta.ownerReferences (patchMergeKey uid) and finalizers (patchStrategy merge)."""
    out = smp({"metadata": {
        "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "other", "uid": "u2"}],
        "finalizers": ["a.example/x", "b.example/y"],
    }})
    assert [o["uid"] for o in out["metadata"]["ownerReferences"]] == ["u1", "u2"]
    assert out["metadata"]["finalizers"] == ["a.example/x", "b.example/y"]


def test_conditions_merge_by_type():
    """Mirrors DeploymentStatus.conditions (patchMergeKey type), e.g. kubectl patch --subresource=status."""
    out = smp({"status": {"conditions": [{"type": "Available", "status": "True"}]}})
    assert out["status"]["conditions"] == [{"type": "Available", "status": "True"},
                                           {"type": "Progressing", "status": "True"}]


def test_patch_delete_directive_removes_a_list_item_by_key():
    """Mirrors `$patch: delete` inside a merged list."""
    out = smp({"spec": {"template": {"spec": {"containers": [{"name": "proxy", "$patch": "delete"}]}}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["app"]


def test_patch_replace_directive_replaces_a_whole_list_or_map():
    """Mirrors `$patch: replace` as a list item and as a map key."""
    out = smp({"spec": {"template": {"spec": {"containers": [{"name": "solo", "image": "i"}, {"$patch": "replace"}]}}}})
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "solo", "image": "i"}]
    out = smp({"metadata": {"labels": {"only": "this", "$patch": "replace"}}})
    assert out["metadata"]["labels"] == {"only": "this"}


def test_patch_delete_directive_on_a_map_removes_it():
    out = smp({"metadata": {"labels": {"$patch": "delete"}}})
    assert "labels" not in out["metadata"]


def test_null_deletes_a_field_in_a_strategic_patch():
    out = smp({"spec": {"replicas": None}})
    assert "replicas" not in out["spec"]


def test_delete_from_primitive_list_removes_values():
    """Mirrors `$deleteFromPrimitiveList/finalizers`, which kubectl sends to drop a finalizer."""
    out = smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}})
    assert out["metadata"]["finalizers"] == []


def test_retain_keys_clears_fields_not_listed():
    """Mirrors `$retainKeys` (used for volume sources and deployment strategy)."""
    dep = {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, target=dep)
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_set_element_order_reorders_a_merged_list():
    """Mirrors `$setElementOrder/containers`, which kubectl apply sends to keep the user's order."""
    out = smp({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "proxy"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "reg/pay:3"}],
    }}}})
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["proxy", "app"]


def test_list_item_without_its_merge_key_is_refused():
    """Mirrors "map: map[...] does not contain declared merge key: name"."""
    with pytest.raises(PatchError, match="does not contain declared merge key: name"):
        smp({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})


def test_unknown_directive_values_are_refused():
    with pytest.raises(PatchError, match="Unknown patch type"):
        smp({"metadata": {"labels": {"$patch": "explode"}}})


def test_strategic_patch_on_a_custom_resource_is_an_unsupported_media_type():
    """Mirrors the real server's 415 for strategic merge patch on custom resources."""
    with pytest.raises(PatchError) as err:
        strategic_merge_patch({"spec": {}}, {"spec": {"a": 1}}, group="finplane.io", kind="Channel")
    assert err.value.unsupported_media_type and err.value.code == 415
    assert "application/merge-patch+json" in err.value.message


def test_unknown_kind_of_a_builtin_group_still_merges_maps():
    out = strategic_merge_patch({"data": {"a": "1"}}, {"data": {"b": "2"}}, group="", kind="ConfigMap")
    assert out == {"data": {"a": "1", "b": "2"}}
