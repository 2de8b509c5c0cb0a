"""authorization.k8s.io and authentication.k8s.io reviews, and TokenRequest (`serviceaccounts/NAME/token`).

Called by `http.py` for `create` on the review resources (nothing is stored; the answer is the
request with its `status` filled) and on the `token` subresource of ServiceAccounts. Gives
`kubectl auth can-i` (SelfSubjectAccessReview, and `--list` through SelfSubjectRulesReview),
`kubectl auth whoami` (SelfSubjectReview) and `kubectl create token` (TokenRequest) their answers.
`register` adds the review kinds to the registry so that discovery lists them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from finplane_emulator import meta, protobuf
from finplane_emulator.authn import User
from finplane_emulator.core import Core
from finplane_emulator.errors import bad_request, invalid, not_found
from finplane_emulator.guard import Guard
from finplane_emulator.rbac import Attributes
from finplane_emulator.resources import ResourceInfo

__all__ = ["REVIEWS", "handles", "register", "serve"]

Obj = dict[str, Any]
AUTHZ, AUTHN = "authorization.k8s.io", "authentication.k8s.io"
REVIEWS = (
    ResourceInfo(group=AUTHZ, version="v1", plural="selfsubjectaccessreviews", kind="SelfSubjectAccessReview",
                 namespaced=False, verbs=("create",)),
    ResourceInfo(group=AUTHZ, version="v1", plural="selfsubjectrulesreviews", kind="SelfSubjectRulesReview",
                 namespaced=False, verbs=("create",)),
    ResourceInfo(group=AUTHZ, version="v1", plural="subjectaccessreviews", kind="SubjectAccessReview",
                 namespaced=False, verbs=("create",)),
    ResourceInfo(group=AUTHZ, version="v1", plural="localsubjectaccessreviews", kind="LocalSubjectAccessReview",
                 verbs=("create",)),
    ResourceInfo(group=AUTHN, version="v1", plural="selfsubjectreviews", kind="SelfSubjectReview",
                 namespaced=False, verbs=("create",)),
    ResourceInfo(group=AUTHN, version="v1", plural="tokenreviews", kind="TokenReview", namespaced=False,
                 verbs=("create",)),
)
MIN_EXPIRATION, DEFAULT_EXPIRATION = 600, 3600


def register(core: Core) -> None:
    for info in REVIEWS:
        core.registry.add_builtin(info)


def handles(info: ResourceInfo, subresource: str) -> bool:
    if info.group in (AUTHZ, AUTHN):
        return True
    return info.group == "" and info.plural == "serviceaccounts" and subresource == "token"


def _attributes(spec: Obj, namespace: str | None = None) -> Attributes:
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(ra, dict):
        ns = ra.get("namespace") or ""
        if namespace is not None and ns and ns != namespace:
            raise bad_request("spec.resourceAttributes.namespace must match metadata.namespace")
        return Attributes(verb=str(ra.get("verb") or ""), group=str(ra.get("group") or ""),
                          resource=str(ra.get("resource") or ""), subresource=str(ra.get("subresource") or ""),
                          namespace=str(namespace or ns), name=str(ra.get("name") or ""))
    if isinstance(nra, dict):
        return Attributes(verb=str(nra.get("verb") or ""), path=str(nra.get("path") or ""), resource_request=False)
    raise invalid(kind="SubjectAccessReview", group=AUTHZ, name="", causes=[
        ("FieldValueRequired", "spec.resourceAttributes",
         "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified")])


def _answer(body: Obj, info: ResourceInfo, status: Obj) -> Obj:
    raw_md = body.get("metadata")
    md: Obj = raw_md if isinstance(raw_md, dict) else {}
    return {"kind": info.kind, "apiVersion": info.api_version, "metadata": {**md, "creationTimestamp": None},
            "spec": body.get("spec") or {}, "status": status}


def _access(guard: Guard, user: User, attrs: Attributes) -> Obj:
    allowed = guard.allowed(user, attrs)
    status: Obj = {"allowed": allowed}
    if not allowed and guard.authorizer is not None:
        status["reason"] = ""
    return status


def serve(core: Core, guard: Guard, user: User, info: ResourceInfo, namespace: str | None, name: str,
          subresource: str, body: Any) -> tuple[Obj, int]:
    """The answer to one review or token request: (object, HTTP code)."""
    if not isinstance(body, dict):
        raise bad_request("the object provided is not a JSON object")
    raw_spec = body.get("spec")
    spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
    plural = info.plural
    if subresource == "token":
        return _token(core, guard, namespace or "", name, body, spec), 201
    if plural == "selfsubjectaccessreviews":
        return _answer(body, info, _access(guard, user, _attributes(spec))), 201
    if plural in ("subjectaccessreviews", "localsubjectaccessreviews"):
        subject = User(name=str(spec.get("user") or ""), uid=str(spec.get("uid") or ""),
                       groups=tuple(str(g) for g in spec.get("groups") or ()), extra=dict(spec.get("extra") or {}))
        if not subject.name and not subject.groups:
            raise invalid(kind=info.kind, group=AUTHZ, name="", causes=[
                ("FieldValueRequired", "spec.user", "Required value: at least one of user or group must be specified")])
        ns = namespace if plural == "localsubjectaccessreviews" else None
        return _answer(body, info, _access(guard, subject, _attributes(spec, ns))), 201
    if plural == "selfsubjectrulesreviews":
        return _answer(body, info, _rules(guard, user, str(spec.get("namespace") or ""))), 201
    if plural == "selfsubjectreviews":
        return _answer(body, info, {"userInfo": user.as_user_info()}), 201
    if plural == "tokenreviews":
        found = guard.authenticator.from_token(str(spec.get("token") or ""))
        status: Obj = {"authenticated": found is not None, "audiences": guard.authenticator.audiences}
        if found is not None:
            status["user"] = found.as_user_info()
        else:
            status["error"] = "[invalid bearer token]"
        return _answer({**body, "spec": {**spec, "token": ""}}, info, status), 201
    raise not_found(plural=plural, group=info.group, name=name)


def _rules(guard: Guard, user: User, namespace: str) -> Obj:
    if guard.authorizer is None:
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    if "system:masters" in user.groups:
        rules = guard.authorizer.cluster_role_rules("cluster-admin")
    else:
        rules = list(dict.fromkeys(guard.authorizer.rules_for(user, namespace)))
    resource = [r.as_dict() for r in rules if not r.non_resource_urls]
    non_resource = [{"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)}
                    for r in rules if r.non_resource_urls]
    return {"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": False}


def _token(core: Core, guard: Guard, namespace: str, name: str, body: Obj, spec: Obj) -> Obj:
    info = core.registry.get("", "v1", "serviceaccounts")
    sa = core.store.get(info, namespace, name) if info else None
    if sa is None:
        raise not_found(plural="serviceaccounts", group="", name=name)
    seconds = spec.get("expirationSeconds")
    seconds = DEFAULT_EXPIRATION if seconds in (None, 0) else seconds
    if not isinstance(seconds, int) or seconds < MIN_EXPIRATION:
        raise invalid(kind="TokenRequest", group=AUTHN, name=name, causes=[
            ("FieldValueInvalid", "spec.expirationSeconds",
             f"Invalid value: {seconds}: may not specify a duration less than 10 minutes")])
    audiences = [str(a) for a in spec.get("audiences") or []] or list(guard.authenticator.audiences)
    token, exp = guard.authenticator.signer.issue(namespace=namespace, name=name, uid=sa["metadata"]["uid"],
                                                  audiences=audiences, seconds=seconds, now=time.time())
    expires = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": meta.now()},
            "spec": {"audiences": audiences, "expirationSeconds": seconds,
                     "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": expires}}


# kubectl 1.32+ sends these typed requests as protobuf (k8s.io/api/authorization/v1 and
# authentication/v1 generated.proto field numbers); teach the decoder their fields.
protobuf.MESSAGES.update({
    "SelfSubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SelfSubjectAccessReviewSpec")},
    "SelfSubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                    2: ("nonResourceAttributes", "NonResourceAttributes")},
    "ResourceAttributes": {1: ("namespace", "string"), 2: ("verb", "string"), 3: ("group", "string"),
                           4: ("version", "string"), 5: ("resource", "string"), 6: ("subresource", "string"),
                           7: ("name", "string")},
    "NonResourceAttributes": {1: ("path", "string"), 2: ("verb", "string")},
    "SubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SubjectAccessReviewSpec")},
    "LocalSubjectAccessReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SubjectAccessReviewSpec")},
    "SubjectAccessReviewSpec": {1: ("resourceAttributes", "ResourceAttributes"),
                                2: ("nonResourceAttributes", "NonResourceAttributes"), 3: ("user", "string"),
                                4: ("groups", "[string]"), 6: ("uid", "string")},
    "SelfSubjectRulesReview": {1: ("metadata", "ObjectMeta"), 2: ("spec", "SelfSubjectRulesReviewSpec")},
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string")},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta")},
    "TokenRequest": {1: ("metadata", "ObjectMeta"), 2: ("spec", "TokenRequestSpec")},
    "TokenRequestSpec": {1: ("audiences", "[string]"), 4: ("expirationSeconds", "int"),
                         3: ("boundObjectRef", "BoundObjectReference")},
    "BoundObjectReference": {1: ("kind", "string"), 2: ("apiVersion", "string"), 3: ("name", "string"),
                             4: ("uid", "string")},
})
protobuf.KINDS = protobuf.KINDS | {"SelfSubjectAccessReview", "SubjectAccessReview", "LocalSubjectAccessReview",
                                   "SelfSubjectRulesReview", "SelfSubjectReview", "TokenRequest"}
