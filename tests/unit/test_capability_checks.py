"""Checks a schema cannot express: each bad spec gets a precise CamelCase reason.

Covers: unparsable images, privileged ports, self dependencies, dependency cycles through other
capabilities, limits below requests; a clean spec has no problems.
"""

from __future__ import annotations

from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.render.capability_checks import check_capability

BASE = {"owner": {"team": "t", "contact": "t@x"}, "domain": "d", "image": "reg.local/t/app:1"}


def reasons(graph: dict | None = None, **spec: object) -> list[str]:
    model = BusinessCapabilitySpec.model_validate({**BASE, **spec})
    return [p.reason for p in check_capability(name="a", namespace="ns", spec=model, graph=graph or {})]


def test_a_clean_spec_has_no_problems() -> None:
    assert reasons() == []


def test_an_image_reference_that_does_not_parse_is_invalid_image() -> None:
    assert reasons(image="reg.local/t/app::1") == ["InvalidImage"]


def test_a_port_below_1024_is_refused_for_non_root_pods() -> None:
    assert reasons(port=80) == ["PrivilegedPort"]


def test_depending_on_itself_is_a_self_dependency() -> None:
    assert reasons(dependencies=[{"name": "a"}]) == ["SelfDependency"]


def test_a_cycle_through_other_capabilities_is_found() -> None:
    graph = {("ns", "b"): [("ns", "c")], ("ns", "c"): [("ns", "a")]}
    assert reasons(graph, dependencies=[{"name": "b"}]) == ["DependencyCycle"]


def test_a_chain_without_cycle_is_fine() -> None:
    graph = {("ns", "b"): [("ns", "c")], ("ns", "c"): []}
    assert reasons(graph, dependencies=[{"name": "b"}]) == []


def test_limits_below_requests_are_refused() -> None:
    assert reasons(resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}) == ["LimitsBelowRequests"]
