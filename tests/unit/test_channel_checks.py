"""Pure parts of the Channel reconciler: route checks, per-route parsing, exposures, last good recovery.

Covers: a route is Ready only when its capabilities exist and are Ready, with reasons
CapabilityMissing, CapabilityNotReady, ExposureRefused (restricted data on mobile, web, open-api and
iot, but not on branch or call-center) and CanaryWeightInvalid (canary equal to the route's
capability, in another namespace, or a weight outside 0..100 reaching the operator); an invalid route
does not invalidate the others while a channel-wide error refuses the whole spec; `exposures_for`
lists the routes (and canaries) sending traffic to a capability, never refused ones; the last good
rendering of each route, with its capabilities and URLs, is rebuilt from live children; `finplane
render` shows the example channels' Ingresses, canary and allowances offline.
"""

from typing import Any

import pytest

from finplane.models.channel import Route
from finplane.reconcile.channel_state import parse_channel, recover_last_good
from finplane.render.channel import exposures_for, render_channel
from finplane.render.channel_checks import check_route
from finplane.settings import Settings

Obj = dict[str, Any]


def cap(ns: str, name: str, *, ready: bool = True, classification: str = "internal") -> Obj:
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"dataClassification": classification},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def route(**extra: Any) -> Route:
    return Route.model_validate({"name": "pay", "capability": {"namespace": "payments", "name": "payments-api"},
                                 "pathPrefix": "/pay", **extra})


def spec(routes: list[Obj], **extra: Any) -> Obj:
    return {"type": "mobile", "hostnames": ["m.bank.example"], "routes": routes, **extra}


CAPS = {("payments", "payments-api"): cap("payments", "payments-api"),
        ("payments", "payments-api-next"): cap("payments", "payments-api-next", ready=False),
        ("kyc", "kyc-check"): cap("kyc", "kyc-check", classification="restricted")}
NEXT = {"capability": {"namespace": "payments", "name": "payments-api-next"}, "weight": 10}


def test_a_route_to_a_ready_capability_is_ready() -> None:
    v = check_route(channel_type="mobile", route=route(), capabilities=CAPS)
    assert (v.renderable, v.ready, v.reason) == (True, True, "RouteReady")


def test_a_route_to_a_missing_capability_is_not_rendered_and_says_which() -> None:
    v = check_route(channel_type="mobile", route=route(capability={"namespace": "cards", "name": "cards"}),
                    capabilities=CAPS)
    assert (v.renderable, v.ready, v.reason) == (False, False, "CapabilityMissing")
    assert "cards/cards" in v.message


def test_a_canary_that_is_not_ready_yet_is_rendered_but_not_ready() -> None:
    v = check_route(channel_type="mobile", route=route(canary=NEXT), capabilities=CAPS)
    assert (v.renderable, v.ready, v.reason) == (True, False, "CapabilityNotReady")
    assert "payments/payments-api-next" in v.message


@pytest.mark.parametrize("channel_type", ["mobile", "web", "open-api", "iot"])
def test_restricted_capabilities_are_refused_on_public_channels(channel_type: str) -> None:
    v = check_route(channel_type=channel_type, route=route(capability={"namespace": "kyc", "name": "kyc-check"}),
                    capabilities=CAPS)
    assert (v.renderable, v.reason) == (False, "ExposureRefused")


@pytest.mark.parametrize("channel_type", ["branch", "call-center"])
def test_restricted_capabilities_may_be_routed_on_internal_channels(channel_type: str) -> None:
    v = check_route(channel_type=channel_type, route=route(capability={"namespace": "kyc", "name": "kyc-check"}),
                    capabilities=CAPS)
    assert v.ready


def test_a_restricted_canary_is_refused_too() -> None:
    canary = {"capability": {"namespace": "payments", "name": "payments-restricted"}, "weight": 5}
    caps = {**CAPS, ("payments", "payments-restricted"): cap("payments", "payments-restricted",
                                                             classification="restricted")}
    assert check_route(channel_type="web", route=route(canary=canary), capabilities=caps).reason == "ExposureRefused"


@pytest.mark.parametrize("target", [{"namespace": "payments", "name": "payments-api"},
                                    {"namespace": "other", "name": "payments-api-next"}])
def test_a_canary_on_itself_or_in_another_namespace_has_invalid_weights(target: Obj) -> None:
    v = check_route(channel_type="mobile", route=route(canary={"capability": target, "weight": 10}),
                    capabilities=CAPS)
    assert (v.renderable, v.reason) == (False, "CanaryWeightInvalid")


def test_an_invalid_route_fails_alone_with_its_reason() -> None:
    good = {"name": "good", "capability": {"namespace": "payments", "name": "payments-api"}}
    bad = {"name": "bad", "capability": {"namespace": "payments", "name": "payments-api"},
           "canary": {**NEXT, "weight": 150}}
    odd = {"name": "odd", "capability": {"namespace": "payments", "name": "payments-api"}, "pathPrefix": "no-slash"}
    parsed = parse_channel(spec([good, bad, odd]))
    assert parsed.spec is not None and [r.name for r in parsed.spec.routes] == ["good"]
    assert parsed.order == ["good", "bad", "odd"]
    assert parsed.invalid["bad"][0] == "CanaryWeightInvalid"
    assert parsed.invalid["odd"][0] == "InvalidRoute"


def test_a_channel_wide_error_refuses_the_whole_spec() -> None:
    parsed = parse_channel(spec([{"name": "a", "capability": {"namespace": "p", "name": "a"}}], type="fax"))
    assert parsed.spec is None and parsed.fatal and "type" in parsed.fatal


def test_a_channel_whose_only_route_is_invalid_still_parses_with_no_routes() -> None:
    parsed = parse_channel(spec([{"name": "a", "capability": {"namespace": "p"}}]))
    assert parsed.spec is not None and parsed.spec.routes == [] and set(parsed.invalid) == {"a"}


def test_exposures_list_routes_and_canaries_but_not_refused_ones() -> None:
    channels = {
        ("", "mobile"): {"metadata": {"name": "mobile"}, "spec": spec(
            [{"name": "pay", "capability": {"namespace": "payments", "name": "payments-api"}, "pathPrefix": "/pay",
              "canary": NEXT},
             {"name": "kyc", "capability": {"namespace": "kyc", "name": "kyc-check"}}], tls={"secretName": "t"})},
        ("", "branch"): {"metadata": {"name": "branch"}, "spec": {**spec(
            [{"name": "kyc", "capability": {"namespace": "kyc", "name": "kyc-check"}, "pathPrefix": "/kyc"}]),
            "type": "branch", "hostnames": ["b.bank.internal"]}},
    }
    stores = {"Channel": channels, "BusinessCapability": CAPS}
    assert exposures_for(stores, "payments", "payments-api") == [
        {"channel": "mobile", "route": "pay", "canary": False, "url": "https://m.bank.example/pay"}]
    assert exposures_for(stores, "payments", "payments-api-next")[0]["canary"] is True
    assert exposures_for(stores, "kyc", "kyc-check") == [
        {"channel": "branch", "route": "kyc", "canary": False, "url": "http://b.bank.internal/kyc"}]
    assert exposures_for(stores, "payments", "unrouted") == []


def test_the_last_good_rendering_is_rebuilt_from_live_children() -> None:
    from finplane.models.channel import ChannelSpec

    parsed = ChannelSpec.model_validate(spec([{"name": "pay", "capability": {"namespace": "payments",
                                                                             "name": "payments-api"},
                                               "pathPrefix": "/pay", "canary": NEXT}]))
    rendered = render_channel(channel="mobile", spec=parsed, ports={}, settings=Settings())
    live = [{**c, "metadata": {**c["metadata"], "uid": "x", "resourceVersion": "7"}, "status": {}} for c in rendered]
    recovered = recover_last_good(live, scheme="https")
    assert set(recovered) == {"pay"}
    good = recovered["pay"]
    assert good.backends == {("payments", "payments-api"), ("payments", "payments-api-next")}
    assert good.urls == ("https://m.bank.example/pay",)
    assert all("uid" not in c["metadata"] and "status" not in c for c in good.children)
    assert sorted(c["metadata"]["name"] for c in good.children) == sorted(c["metadata"]["name"] for c in rendered)


def test_finplane_render_shows_a_channels_routes_without_a_cluster() -> None:
    from pathlib import Path

    from finplane.commands.render import render_file

    out = render_file(Path(__file__).resolve().parents[2] / "examples" / "30-channels.yaml")
    assert "name: open-api-payments.canary" in out
    assert "nginx.ingress.kubernetes.io/canary-weight: '10'" in out
    assert "name: mobile-onboarding.from-gateway" in out
