"""The RBAC rule semantics, pure: how one PolicyRule matches a request (k8s.io/kubernetes rbac.RuleAllows) and
when the rules a writer holds cover a rule it wants to grant (pkg/registry/rbac/validation.Covers)."""

from __future__ import annotations

from finplane_emulator.rbac import Attributes, Rule, _breakdown, covers


def rule(**kw: object) -> Rule:
    return Rule.parse({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], **kw})


def test_a_rule_matches_verb_group_and_resource_exactly_or_by_wildcard() -> None:
    get_pods = Attributes(verb="get", resource="pods", namespace="n", name="p")
    assert rule().allows(get_pods)
    assert not rule().allows(Attributes(verb="list", resource="pods", namespace="n"))
    assert not rule().allows(Attributes(verb="get", group="apps", resource="pods", namespace="n"))
    assert rule(verbs=["*"], apiGroups=["*"], resources=["*"]).allows(
        Attributes(verb="delete", group="apps", resource="deployments"))


def test_subresources_need_their_own_entry() -> None:
    status = Attributes(verb="get", resource="pods", subresource="status", namespace="n", name="p")
    assert not rule().allows(status)
    assert rule(resources=["*"]).allows(status)  # RBAC's "*" is every resource and subresource
    assert rule(resources=["pods/status"]).allows(status)
    assert rule(resources=["*/status"]).allows(status)
    assert rule(resources=["pods/*"]).allows(status)


def test_resource_names_match_only_requests_that_name_an_object() -> None:
    named = rule(resourceNames=["a"])
    assert named.allows(Attributes(verb="get", resource="pods", name="a"))
    assert not named.allows(Attributes(verb="get", resource="pods", name="b"))
    assert not named.allows(Attributes(verb="get", resource="pods"))


def test_non_resource_urls_match_exactly_or_by_trailing_star() -> None:
    urls = Rule.parse({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*"]})
    assert urls.allows(Attributes(verb="get", path="/healthz", resource_request=False))
    assert urls.allows(Attributes(verb="get", path="/apis/apps/v1", resource_request=False))
    assert not urls.allows(Attributes(verb="get", path="/api", resource_request=False))
    assert not urls.allows(Attributes(verb="get", resource="pods"))  # a resource request is not a URL


def test_holding_a_wildcard_covers_specific_grants_but_not_the_reverse() -> None:
    star = Rule.parse({"verbs": ["*"], "apiGroups": [""], "resources": ["*"]})
    specific = _breakdown([rule(verbs=["get", "delete"], resources=["secrets", "pods/log"])])
    assert len(specific) == 4 and all(covers(star, atom) for atom in specific)
    wants_star = _breakdown([Rule.parse({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]})])
    assert not covers(rule(verbs=["get", "list", "watch", "create", "update", "patch", "delete"]), wants_star[0])


def test_holding_a_named_rule_covers_only_that_name() -> None:
    held = rule(resourceNames=["a"])
    assert covers(held, _breakdown([rule(resourceNames=["a"])])[0])
    assert not covers(held, _breakdown([rule(resourceNames=["b"])])[0])
    assert not covers(held, _breakdown([rule()])[0])  # every pod is more than pod "a"
