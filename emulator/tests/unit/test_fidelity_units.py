"""Pure parts of the fidelity behaviours, without a server: QoS classes, printer cells, content negotiation,
etcd-style compaction and the docs page that lists what is served. Each docstring names the behaviour mirrored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finplane_emulator import compaction, negotiation
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError
from finplane_emulator.initial_status import pod_qos_class, quantity
from finplane_emulator.printers import label_selector, service_external_ip
from finplane_emulator.resources import BUILTINS, Registry
from finplane_emulator.store import WatchEvent

DOCS = Path(__file__).resolve().parents[3] / "docs" / "apiserver.md"


def test_quantities_compare_by_value():
    """resource.Quantity: "500m" and "0.5" are equal, binary and decimal suffixes differ."""
    assert quantity("500m") == quantity("0.5")
    assert quantity("1Ki") == 1024 and quantity("1k") == 1000
    assert quantity("lots") is None


def test_init_containers_count_for_the_qos_class():
    """qos.GetPodQOS looks at init containers too: one without limits makes the Pod Burstable."""
    guaranteed = {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
    assert pod_qos_class({"containers": [guaranteed]}) == "Guaranteed"
    assert pod_qos_class({"containers": [guaranteed], "initContainers": [{"resources": {
        "requests": {"cpu": "1"}}}]}) == "Burstable"
    assert pod_qos_class({"containers": [{"resources": {"limits": {"cpu": "0"}}}]}) == "BestEffort"


def test_label_selectors_print_as_apimachinery_formats_them():
    """metav1.FormatLabelSelector: requirements sorted by key, set operators in parentheses, <none> when empty."""
    assert label_selector({"matchLabels": {"b": "2", "a": "1"}}) == "a=1,b=2"
    assert label_selector({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                                {"key": "gone", "operator": "DoesNotExist"}]}) == "!gone,tier in (api,web)"
    assert label_selector({}) == "<none>"


def test_a_load_balancer_without_an_address_is_pending():
    """getServiceExternalIP: LoadBalancer Services without ingress show <pending>, ClusterIP ones <none>."""
    assert service_external_ip({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}}) == "<pending>"
    assert service_external_ip({"spec": {"type": "ClusterIP"}}) == "<none>"


@pytest.mark.parametrize(("accept", "verb", "kind"), [
    ("", "get", "ConfigMap"),
    ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "list", "Table"),
    ("application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
     "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", "list",
     "PartialObjectMetadataList"),
    ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", "get", "PartialObjectMetadata"),
    ("application/json;as=Table;g=example.com;v=v1,*/*", "get", "ConfigMap"),
])
def test_negotiation_takes_the_first_media_type_it_can_serve(accept, verb, kind):
    """endpoints/handlers/negotiation: media types in order, as client-go's metadata client and kubectl send them."""
    info = Registry().get("", "v1", "configmaps")
    assert info is not None
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "5"}, "data": {}}
    listed = {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "5"}, "items": [obj]}
    render = negotiation.renderer(accept, info, include="Metadata", verb=verb)
    body = render(obj, True) if verb == "get" else render(listed, False)
    assert body["kind"] == (kind if kind != "ConfigMap" or verb == "get" else "ConfigMapList")


@pytest.mark.parametrize("accept", ["application/json;as=Bogus;g=meta.k8s.io;v=v1", "text/html"])
def test_negotiation_refuses_what_it_cannot_serve_with_406(accept):
    info = Registry().get("", "v1", "configmaps")
    assert info is not None
    with pytest.raises(ApiError) as err:
        negotiation.renderer(accept, info, include="Metadata", verb="get")
    assert err.value.code == 406


def test_compaction_moves_to_the_revision_of_one_interval_before():
    """etcd compacts every interval at the revision current one interval earlier; older versions then 410."""
    core = Core()
    info = core.registry.get("", "v1", "configmaps")
    assert info is not None
    clock = [0.0]
    compactor = compaction.Compactor(core, interval=300, clock=lambda: clock[0])
    res = core.store.resource(info.key)
    core.store.rv = 10
    compactor.pending_rv = 10
    clock[0] = 301
    core.store.rv = 20
    compactor.on_event(info, WatchEvent(20, "ADDED", {"metadata": {"name": "x"}}))
    assert res.compacted_rv == 10 and core.store.base_rv == 10
    clock[0] = 400  # within the interval: nothing moves
    compactor.on_event(info, WatchEvent(21, "ADDED", {"metadata": {"name": "y"}}))
    assert res.compacted_rv == 10
    clock[0] = 602
    compactor.on_event(info, WatchEvent(22, "ADDED", {"metadata": {"name": "z"}}))
    assert res.compacted_rv == 20


def test_the_docs_page_lists_every_built_in_resource_served():
    """docs/apiserver.md's discovery row names each built-in resource (kept true as resources are added)."""
    text = DOCS.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| discovery |"))
    missing = [i.plural for i in BUILTINS if not re.search(rf"\b{i.plural}\b", row)]
    assert missing == []
    for group in {i.group for i in BUILTINS if i.group}:
        assert group in row, group


@pytest.mark.parametrize(("replicas", "code"), [(True, 400), ("2", 400), (2.5, 400), (2.0, None), (None, None)])
def test_json_types_are_decoded_as_go_decodes_them(replicas, code):
    """encoding/json into an int32: a bool, a string or a fraction fails (400), an integral number or null is fine."""
    from finplane_emulator.schema_builtin import validate_builtin

    info = Registry().get("apps", "v1", "deployments")
    assert info is not None
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    if code is None:
        validate_builtin(info, body)
    else:
        with pytest.raises(ApiError) as err:
            validate_builtin(info, body)
        assert err.value.code == code and "spec.replicas" in str(err.value.body)


def test_built_in_kinds_are_validated_with_the_schemas_of_the_version_served():
    """/version and the schemas used to validate (and served under /openapi/v3) name the same minor release."""
    from finplane_emulator.discovery import KUBE_VERSION
    from finplane_emulator.openapi import SCHEMA_VERSION

    major, minor, _ = KUBE_VERSION
    assert SCHEMA_VERSION.startswith(f"v{major}.{minor}.")
