"""Lists (semantic 6): label selectors with every operator, field selectors and limit/continue pagination,
as the kube-apiserver serves them."""

from __future__ import annotations


def _names(resp) -> list[str]:
    return [i["metadata"]["name"] for i in resp.json()["items"]]


def _fill(api, ns):
    api.cm(ns, "a", labels={"app": "web", "tier": "front"})
    api.cm(ns, "b", labels={"app": "web", "tier": "back"})
    api.cm(ns, "c", labels={"app": "db"})
    api.cm(ns, "d")


def test_label_selectors_support_equality_sets_and_existence(api, ns):
    """kube-apiserver: labelSelector supports =, ==, !=, in, notin, exists and !exists."""
    _fill(api, ns)
    path = f"/api/v1/namespaces/{ns}/configmaps"
    cases = {"app=web": ["a", "b"], "app==db": ["c"], "app!=web": ["c", "d"], "tier in (front,back)": ["a", "b"],
             "app notin (web)": ["c", "d"], "tier": ["a", "b"], "!tier": ["c", "d"], "app=web,tier=back": ["b"]}
    for selector, expected in cases.items():
        assert _names(api.get(path, params={"labelSelector": selector})) == expected, selector


def test_a_malformed_label_selector_is_400(api, ns):
    """kube-apiserver: an unparsable selector answers 400 BadRequest."""
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"labelSelector": "a in (b"}).status_code == 400


def test_field_selectors_match_name_and_namespace(api, ns):
    """kube-apiserver: every resource supports fieldSelector on metadata.name and metadata.namespace."""
    _fill(api, ns)
    assert _names(api.get(f"/api/v1/namespaces/{ns}/configmaps", params={"fieldSelector": "metadata.name=c"})) == ["c"]
    across = api.get("/api/v1/configmaps", params={"fieldSelector": f"metadata.namespace={ns},metadata.name!=a"})
    assert _names(across) == ["b", "c", "d"]


def test_limit_and_continue_page_through_a_list(api, ns):
    """kube-apiserver: limit cuts the list and metadata.continue fetches the rest, in key order."""
    for i in range(7):
        api.cm(ns, f"p{i}")
    path = f"/api/v1/namespaces/{ns}/configmaps"
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"continue": token} if token else {})}
        body = api.get(path, params=params).json()
        seen += [i["metadata"]["name"] for i in body["items"]]
        pages += 1
        token = body["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)]
    assert pages == 3


def test_lists_carry_a_resource_version_to_watch_from(api, ns):
    """kube-apiserver: a list's metadata.resourceVersion is the store's current revision."""
    rv = int(api.cm(ns, "x").json()["metadata"]["resourceVersion"])
    assert int(api.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]["resourceVersion"]) >= rv
