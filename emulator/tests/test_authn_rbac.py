"""Authentication and RBAC as kube-apiserver does them, each guard rail tested as the client it keeps out.

Covers: the admin token of the written kubeconfig (system:masters); the static token file; anonymous
requests (system:anonymous, 401 with --no-anonymous-auth); bad tokens (401); TokenRequest tokens and
forged, foreign or orphaned ones; legacy ServiceAccount token Secrets; Roles, ClusterRoles, bindings,
aggregated ClusterRoles, resourceNames, subresources and non-resource URLs; the 403 body's wording;
escalation prevention on Role and binding writes (`escalate`, `bind`); impersonation; the
authorization.k8s.io reviews; and kubectl's `auth can-i`, `auth whoami` and `create token`.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from finplane_emulator.testing import ApiServerHandle, start_apiserver

RBAC = "/apis/rbac.authorization.k8s.io/v1"
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl")
TOKENS = {"alice": "alice-token-0001", "bob": "bob-token-0002", "carol": "carol-token-0003"}


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerHandle]:
    tmp = tmp_path_factory.mktemp("secure")
    token_file = tmp / "tokens.csv"
    token_file.write_text(f'{TOKENS["alice"]},alice,u-alice,"devs,qa"\n{TOKENS["bob"]},bob,u-bob\n'
                          f'{TOKENS["carol"]},carol,u-carol,ops\n')
    with start_apiserver(tmp / "server", authorization_mode="RBAC", token_auth_file=token_file) as handle:
        yield handle


def client(handle: ApiServerHandle, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=handle.url, headers=headers, timeout=30, verify=_verify(handle))


def _verify(handle: ApiServerHandle) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=str(handle.ca_file)) if handle.ca_file else True


@pytest.fixture(scope="module")
def admin(secure: ApiServerHandle) -> Iterator[httpx.Client]:
    with client(secure, secure.token) as c:
        yield c


def as_user(secure: ApiServerHandle, name: str) -> httpx.Client:
    return client(secure, TOKENS[name])


def namespace(admin: httpx.Client) -> str:
    name = f"rb-{uuid.uuid4().hex[:6]}"
    assert admin.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


def bind(admin: httpx.Client, ns: str, *, role_kind: str, role: str, user: str) -> None:
    resp = admin.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
        "metadata": {"name": f"{user}-{role.replace(':', '-')}-{uuid.uuid4().hex[:4]}"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}]})
    assert resp.status_code == 201, resp.text


def role(admin: httpx.Client, ns: str, name: str, rules: list[dict[str, Any]]) -> None:
    resp = admin.post(f"{RBAC}/namespaces/{ns}/roles", json={"metadata": {"name": name}, "rules": rules})
    assert resp.status_code == 201, resp.text


def test_the_kubeconfig_token_is_an_admin_in_system_masters(secure: ApiServerHandle, admin: httpx.Client) -> None:
    review = admin.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}).json()
    assert review["status"]["userInfo"]["username"] == "kubernetes-admin"
    assert "system:masters" in review["status"]["userInfo"]["groups"]
    assert admin.get("/api/v1/namespaces/kube-system/secrets").status_code == 200


def test_an_anonymous_client_is_refused_with_the_kube_apiserver_message(secure: ApiServerHandle) -> None:
    with client(secure, None) as anon:
        resp = anon.get("/api/v1/namespaces/default/secrets")
        assert resp.status_code == 403
        body = resp.json()
        assert body["kind"] == "Status" and body["reason"] == "Forbidden"
        assert body["message"] == ('secrets is forbidden: User "system:anonymous" cannot list resource "secrets" '
                                   'in API group "" in the namespace "default"')
        assert body["details"] == {"kind": "secrets"}
        # public info is readable, discovery is not (system:public-info-viewer vs system:discovery)
        assert anon.get("/version").status_code == 200
        assert anon.get("/apis").status_code == 403
        assert anon.get("/apis").json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/apis"'


def test_without_anonymous_auth_a_request_without_a_token_gets_401(tmp_path: Path) -> None:
    with start_apiserver(tmp_path, authorization_mode="RBAC", anonymous_auth=False) as handle:
        with client(handle, None) as anon:
            resp = anon.get("/api/v1/namespaces")
            assert resp.status_code == 401
            assert resp.json()["reason"] == "Unauthorized"


def test_an_unknown_or_malformed_token_gets_401_even_where_anonymous_would_be_allowed(
        secure: ApiServerHandle) -> None:
    for token in ("not-a-token", TOKENS["alice"] + "x", "a.b.c"):
        with client(secure, token) as c:
            assert c.get("/version").status_code == 401
    with httpx.Client(base_url=secure.url, headers={"Authorization": "Basic YWRtaW46YWRtaW4="},
                      verify=_verify(secure)) as c:
        assert c.get("/version").status_code == 401


def test_a_static_token_user_gets_its_groups_and_system_authenticated(secure: ApiServerHandle) -> None:
    with as_user(secure, "alice") as alice:
        info = alice.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}).json()["status"]["userInfo"]
    assert info == {"username": "alice", "uid": "u-alice", "groups": ["devs", "qa", "system:authenticated"]}


def test_a_user_without_bindings_can_discover_but_not_read(secure: ApiServerHandle) -> None:
    with as_user(secure, "bob") as bob:
        assert bob.get("/api/v1").status_code == 200
        resp = bob.get("/api/v1/namespaces/default/configmaps")
        assert resp.status_code == 403
        assert 'User "bob" cannot list resource "configmaps"' in resp.json()["message"]


def test_a_role_binding_grants_in_its_namespace_only(secure: ApiServerHandle, admin: httpx.Client) -> None:
    mine, other = namespace(admin), namespace(admin)
    bind(admin, mine, role_kind="ClusterRole", role="view", user="bob")
    with as_user(secure, "bob") as bob:
        assert bob.get(f"/api/v1/namespaces/{mine}/configmaps").status_code == 200
        # view holds no secrets, and nothing in another namespace or cluster-wide
        assert bob.get(f"/api/v1/namespaces/{mine}/secrets").status_code == 403
        assert bob.get(f"/api/v1/namespaces/{other}/configmaps").status_code == 403
        assert bob.get("/api/v1/configmaps").status_code == 403
        resp = bob.post(f"/api/v1/namespaces/{mine}/configmaps", json={"metadata": {"name": "x"}})
        assert resp.status_code == 403
        assert resp.json()["message"] == (f'configmaps is forbidden: User "bob" cannot create resource "configmaps" '
                                          f'in API group "" in the namespace "{mine}"')
        # a revoked binding takes effect on the next request
        for rb in admin.get(f"{RBAC}/namespaces/{mine}/rolebindings").json()["items"]:
            admin.delete(f"{RBAC}/namespaces/{mine}/rolebindings/{rb['metadata']['name']}")
        assert bob.get(f"/api/v1/namespaces/{mine}/configmaps").status_code == 403


def test_resource_names_and_subresources_narrow_a_rule(secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    for name in ("allowed", "other"):
        admin.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}})
    admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json={"metadata": {"name": "web"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                                                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    role(admin, ns, "narrow", [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["allowed"],
                                "verbs": ["get"]},
                               {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get"]}])
    bind(admin, ns, role_kind="Role", role="narrow", user="carol")
    with as_user(secure, "carol") as carol:
        assert carol.get(f"/api/v1/namespaces/{ns}/configmaps/allowed").status_code == 200
        denied = carol.get(f"/api/v1/namespaces/{ns}/configmaps/other")
        assert denied.status_code == 403
        assert denied.json()["message"].startswith('configmaps "other" is forbidden: User "carol" cannot get')
        assert carol.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 403  # a list names no object
        assert carol.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web/scale").status_code == 200
        assert carol.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").status_code == 403


def test_an_aggregated_cluster_role_takes_the_rules_of_the_roles_it_selects(
        secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    bind(admin, ns, role_kind="ClusterRole", role="view", user="alice")
    with as_user(secure, "alice") as alice:
        assert alice.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases").status_code == 403
        resp = admin.post(f"{RBAC}/clusterroles", json={
            "metadata": {"name": "leases-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list"]}]})
        assert resp.status_code == 201
        assert alice.get(f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the aggregation controller writes the rules into "view"
        rules = admin.get(f"{RBAC}/clusterroles/view").json()["rules"]
        if any("leases" in r.get("resources", []) for r in rules):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("view's rules were not aggregated")
    assert admin.delete(f"{RBAC}/clusterroles/leases-view").status_code == 200


def test_a_user_cannot_create_a_role_granting_what_it_does_not_hold(
        secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    role(admin, ns, "role-writer", [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create", "update"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}])
    bind(admin, ns, role_kind="Role", role="role-writer", user="bob")
    with as_user(secure, "bob") as bob:
        resp = bob.post(f"{RBAC}/namespaces/{ns}/roles", json={"metadata": {"name": "grab"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]})
        assert resp.status_code == 403
        assert resp.json()["message"].startswith(
            'roles.rbac.authorization.k8s.io "grab" is forbidden: user "bob" (groups=["system:authenticated"]) '
            "is attempting to grant RBAC permissions not currently held:")
        assert 'Resources:["secrets"]' in resp.json()["message"]
        wildcard = bob.post(f"{RBAC}/namespaces/{ns}/roles", json={"metadata": {"name": "star"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]})
        assert wildcard.status_code == 403
        ok = bob.post(f"{RBAC}/namespaces/{ns}/roles", json={"metadata": {"name": "fine"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]})
        assert ok.status_code == 201, ok.text
        # nor may it widen that role afterwards
        widened = bob.put(f"{RBAC}/namespaces/{ns}/roles/fine", json={**ok.json(), "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]})
        assert widened.status_code == 403
    assert admin.get(f"{RBAC}/namespaces/{ns}/roles/grab").status_code == 404


def test_an_aggregation_rule_needs_cluster_admin_privileges(secure: ApiServerHandle, admin: httpx.Client) -> None:
    resp = admin.post(f"{RBAC}/clusterroles", json={"metadata": {"name": "cr-writer"}, "rules": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["create"]}]})
    assert resp.status_code == 201
    admin.post(f"{RBAC}/clusterrolebindings", json={
        "metadata": {"name": "bob-cr-writer"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cr-writer"},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]})
    try:
        with as_user(secure, "bob") as bob:
            grab = bob.post(f"{RBAC}/clusterroles", json={
                "metadata": {"name": "gather-all"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {
                    "kubernetes.io/bootstrapping": "rbac-defaults"}}]}})
            assert grab.status_code == 403
            assert "must have cluster-admin privileges to use the aggregationRule" in grab.json()["message"]
    finally:
        admin.delete(f"{RBAC}/clusterrolebindings/bob-cr-writer")
        admin.delete(f"{RBAC}/clusterroles/cr-writer")


def test_escalate_lets_a_user_write_roles_beyond_its_own_permissions(
        secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    role(admin, ns, "escalator", [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create", "escalate"]}])
    bind(admin, ns, role_kind="Role", role="escalator", user="carol")
    with as_user(secure, "carol") as carol:
        resp = carol.post(f"{RBAC}/namespaces/{ns}/roles", json={"metadata": {"name": "big"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]})
        assert resp.status_code == 201, resp.text


def test_a_binding_needs_the_roles_permissions_or_bind_on_that_role_name(
        secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    role(admin, ns, "binder", [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
         "resourceNames": ["view"]}])
    bind(admin, ns, role_kind="Role", role="binder", user="alice")

    def attempt(c: httpx.Client, target: str) -> httpx.Response:
        return c.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
            "metadata": {"name": f"to-{target}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": target},
            "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]})

    with as_user(secure, "alice") as alice:
        refused = attempt(alice, "cluster-admin")
        assert refused.status_code == 403
        assert "is attempting to grant RBAC permissions not currently held" in refused.json()["message"]
        assert attempt(alice, "edit").status_code == 403
        assert attempt(alice, "view").status_code == 201


def test_a_cluster_role_binding_by_group_grants_everywhere(secure: ApiServerHandle, admin: httpx.Client) -> None:
    resp = admin.post(f"{RBAC}/clusterrolebindings", json={
        "metadata": {"name": "qa-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "Group", "name": "qa", "apiGroup": "rbac.authorization.k8s.io"}]})
    assert resp.status_code == 201
    try:
        with as_user(secure, "alice") as alice, as_user(secure, "bob") as bob:
            assert alice.get("/api/v1/configmaps").status_code == 200
            assert bob.get("/api/v1/configmaps").status_code == 403
    finally:
        admin.delete(f"{RBAC}/clusterrolebindings/qa-view")


def test_impersonation_needs_the_impersonate_verb(secure: ApiServerHandle, admin: httpx.Client) -> None:
    with as_user(secure, "bob") as bob:
        resp = bob.get("/api/v1/namespaces", headers={"Impersonate-User": "kubernetes-admin",
                                                      "Impersonate-Group": "system:masters"})
        assert resp.status_code == 403
        assert 'cannot impersonate resource "users"' in resp.json()["message"]
    resp = admin.get("/api/v1/namespaces/default/secrets", headers={"Impersonate-User": "bob"})
    assert resp.status_code == 403
    assert 'User "bob" cannot list' in resp.json()["message"]


def _token_request(c: httpx.Client, ns: str, sa: str, **spec: Any) -> httpx.Response:
    return c.post(f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                  json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


def test_a_token_request_gives_a_token_of_the_service_account_identity(
        secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "robot"}})
    resp = _token_request(admin, ns, "robot")
    assert resp.status_code == 201, resp.text
    answer = resp.json()
    assert answer["kind"] == "TokenRequest" and answer["spec"]["expirationSeconds"] == 3600
    token = answer["status"]["token"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{ns}:robot"
    with client(secure, token) as robot:
        info = robot.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}).json()["status"]["userInfo"]
        assert info["username"] == f"system:serviceaccount:{ns}:robot"
        assert info["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
        assert robot.get(f"/api/v1/namespaces/{ns}/pods").status_code == 403
        admin.post(f"{RBAC}/namespaces/{ns}/rolebindings", json={
            "metadata": {"name": "robot-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot"}]})  # namespace defaults to the binding's
        assert robot.get(f"/api/v1/namespaces/{ns}/pods").status_code == 200
    assert _token_request(admin, ns, "robot", expirationSeconds=599).status_code == 422
    assert _token_request(admin, ns, "nobody").status_code == 404


def test_forged_foreign_and_orphaned_service_account_tokens_are_refused(
        secure: ApiServerHandle, admin: httpx.Client, tmp_path: Path) -> None:
    ns = namespace(admin)
    admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "robot"}})
    token = _token_request(admin, ns, "robot").json()["status"]["token"]
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["kubernetes.io"]["serviceaccount"]["name"] = "admin"
    claims["sub"] = f"system:serviceaccount:{ns}:admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with client(secure, f"{header}.{forged_payload}.{sig}") as forged:
        assert forged.get("/version").status_code == 401
    with client(secure, f"{header}.{payload}.{sig[:-4]}AAAA") as bad_sig:
        assert bad_sig.get("/version").status_code == 401
    other_audience = _token_request(admin, ns, "robot", audiences=["vault"]).json()["status"]["token"]
    with client(secure, other_audience) as c:
        assert c.get("/version").status_code == 401  # a token for another audience is not for this server
    with start_apiserver(tmp_path) as other:  # same claims, signed by another server's key
        with client(other, other.token) as other_admin:
            other_admin.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
            other_admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "robot"}})
            foreign = _token_request(other_admin, ns, "robot").json()["status"]["token"]
    with client(secure, foreign) as c:
        assert c.get("/version").status_code == 401
    with client(secure, token) as c:
        assert c.get("/version").status_code == 200
        admin.delete(f"/api/v1/namespaces/{ns}/serviceaccounts/robot")
        assert c.get("/version").status_code == 401  # the ServiceAccount is gone, and its tokens with it


def test_an_expired_token_is_refused() -> None:
    from finplane_emulator.tokens import ISSUER, Signer, TokenError

    signer = Signer()
    token, _ = signer.issue(namespace="n", name="s", uid="u", audiences=[ISSUER], seconds=600, now=1000.0)
    assert signer.verify(token, audiences=[ISSUER], now=1500.0).name == "s"
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, audiences=[ISSUER], now=1601.0)


def test_a_legacy_token_secret_is_filled_and_lives_as_long_as_the_secret(tmp_path: Path) -> None:
    with start_apiserver(tmp_path, authorization_mode="RBAC", admission_plugins=("ServiceAccount",)) as handle:
        with client(handle, handle.token) as admin:
            admin.post("/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": "legacy"}})
            resp = admin.post("/api/v1/namespaces/default/secrets", json={
                "metadata": {"name": "legacy-token",
                             "annotations": {"kubernetes.io/service-account.name": "legacy"}},
                "type": "kubernetes.io/service-account-token"})
            assert resp.status_code == 201
            secret = resp.json()
            assert set(secret["data"]) == {"token", "ca.crt", "namespace"}
            token = base64.b64decode(secret["data"]["token"]).decode()
            with client(handle, token) as legacy:
                info = legacy.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={}).json()
                assert info["status"]["userInfo"]["username"] == "system:serviceaccount:default:legacy"
                admin.delete("/api/v1/namespaces/default/secrets/legacy-token")
                assert legacy.get("/version").status_code == 401


def test_access_reviews_answer_for_self_and_for_others(secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    bind(admin, ns, role_kind="ClusterRole", role="edit", user="carol")
    attrs = {"namespace": ns, "verb": "create", "resource": "secrets"}
    with as_user(secure, "carol") as carol:
        own = carol.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                         json={"spec": {"resourceAttributes": attrs}})
        assert own.status_code == 201 and own.json()["status"]["allowed"] is True
        denied = carol.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                            json={"spec": {"resourceAttributes": {**attrs, "namespace": "default"}}})
        assert denied.json()["status"]["allowed"] is False
        # carol may not ask about others
        assert carol.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                          json={"spec": {"user": "bob", "resourceAttributes": attrs}}).status_code == 403
        rules = carol.post("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                           json={"spec": {"namespace": ns}}).json()["status"]
        assert any("secrets" in r.get("resources", []) and "create" in r["verbs"] for r in rules["resourceRules"])
    other = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                       json={"spec": {"user": "carol", "resourceAttributes": attrs}})
    assert other.json()["status"]["allowed"] is True
    bob = admin.post("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                     json={"spec": {"user": "bob", "resourceAttributes": attrs}})
    assert bob.json()["status"]["allowed"] is False


def _kubectl(handle: ApiServerHandle, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    if not KUBECTL.exists():
        pytest.skip("kubectl is not installed")
    extra = ["--token", token] if token else []
    return subprocess.run([str(KUBECTL), "--kubeconfig", str(handle.kubeconfig), *extra, *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBECACHEDIR": str(handle.kubeconfig.parent / ".kube-cache")})


def test_kubectl_auth_can_i_whoami_and_create_token_work(secure: ApiServerHandle, admin: httpx.Client) -> None:
    ns = namespace(admin)
    bind(admin, ns, role_kind="ClusterRole", role="view", user="bob")
    yes = _kubectl(secure, "auth", "can-i", "list", "pods", "-n", ns, token=TOKENS["bob"])
    assert yes.stdout.strip() == "yes", yes.stderr
    no = _kubectl(secure, "auth", "can-i", "delete", "pods", "-n", ns, token=TOKENS["bob"])
    assert no.stdout.strip() == "no" and no.returncode == 1
    listed = _kubectl(secure, "auth", "can-i", "--list", "-n", ns, token=TOKENS["bob"])
    assert listed.returncode == 0 and "pods" in listed.stdout, listed.stderr
    whoami = _kubectl(secure, "auth", "whoami", "-o", "json", token=TOKENS["bob"])
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "bob", whoami.stderr
    admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "deployer"}})
    created = _kubectl(secure, "create", "token", "deployer", "-n", ns, "--duration", "20m")
    assert created.returncode == 0, created.stderr
    who = _kubectl(secure, "auth", "whoami", "-o", "json", token=created.stdout.strip())
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == f"system:serviceaccount:{ns}:deployer"
    refused = _kubectl(secure, "get", "secrets", "-n", ns, token=TOKENS["bob"])
    assert refused.returncode != 0
    assert (f'User "bob" cannot list resource "secrets" in API group "" in the namespace "{ns}"'
            in refused.stderr)


def test_always_allow_mode_keeps_every_request_allowed(tmp_path: Path) -> None:
    with start_apiserver(tmp_path) as handle, client(handle, None) as anon:
        assert anon.get("/api/v1/namespaces/default/secrets").status_code == 200
        review = anon.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json={
            "spec": {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}})
        assert review.json()["status"]["allowed"] is True
        assert anon.get("/apis/rbac.authorization.k8s.io/v1/clusterroles").json()["items"] == []
