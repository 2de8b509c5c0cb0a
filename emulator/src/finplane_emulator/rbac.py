"""The RBAC authorizer: Roles, ClusterRoles, their bindings, aggregation and escalation prevention.

Called by `http.py` (through `app.py`'s wiring) for every request once `--authorization-mode RBAC`
is set, by `rbac_reviews.py` (SubjectAccessReview and friends) and by `admission_chain.py` (role and
binding writes). Mirrors `k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac`: the group
`system:masters` is allowed everything; otherwise a request is allowed when a rule of a role bound
to the user (by a ClusterRoleBinding anywhere, by a RoleBinding in the request's namespace) matches
its verb, API group, resource (`res`, `res/sub`, `*/sub`, `res/*`, `*`), resourceNames (for
requests naming an object) or non-resource URL (`/x`, `/x/*`, `*`). Aggregated ClusterRoles take the
rules of every ClusterRole their `aggregationRule` selects (and `aggregation.py` writes them into the
object, as the clusterrole-aggregation controller does). Pure over the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from finplane_emulator.authn import User
from finplane_emulator.core import Core
from finplane_emulator.errors import ApiError
from finplane_emulator.selectors import label_selector_from_dict

__all__ = ["Attributes", "Authorizer", "Rule", "covers", "forbidden_message", "rules_of"]

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
SUPERUSER_GROUP = "system:masters"


@dataclass(frozen=True)
class Attributes:
    """What a request asks for (k8s.io/apiserver's authorizer.Attributes)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""
    resource_request: bool = True


@dataclass(frozen=True)
class Rule:
    """One PolicyRule, normalised to tuples."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Any) -> Rule:
        def t(key: str) -> tuple[str, ...]:
            value = raw.get(key) if isinstance(raw, dict) else None
            return tuple(str(v) for v in value) if isinstance(value, list) else ()
        return cls(verbs=t("verbs"), api_groups=t("apiGroups"), resources=t("resources"),
                   resource_names=t("resourceNames"), non_resource_urls=t("nonResourceURLs"))

    def as_dict(self) -> Obj:
        out: Obj = {"verbs": list(self.verbs)}
        if self.non_resource_urls:
            out["nonResourceURLs"] = list(self.non_resource_urls)
        else:
            out["apiGroups"] = list(self.api_groups)
            out["resources"] = list(self.resources)
        if self.resource_names:
            out["resourceNames"] = list(self.resource_names)
        return out

    def allows(self, a: Attributes) -> bool:
        if "*" not in self.verbs and a.verb not in self.verbs:
            return False
        if not a.resource_request:
            return any(u == "*" or u == a.path or (u.endswith("*") and a.path.startswith(u[:-1]))
                       for u in self.non_resource_urls)
        if "*" not in self.api_groups and a.group not in self.api_groups:
            return False
        combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        if not any(r == "*" or r == combined or (a.subresource and r == f"*/{a.subresource}")
                   or (r.endswith("/*") and combined.startswith(r[:-1])) for r in self.resources):
            return False
        return not self.resource_names or a.name in self.resource_names


def rules_of(role: Obj | None) -> list[Rule]:
    return [Rule.parse(r) for r in ((role or {}).get("rules") or []) if isinstance(r, dict)]


def _subject_matches(subject: Any, user: User, binding_ns: str) -> bool:
    if not isinstance(subject, dict):
        return False
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return user.name == f"system:serviceaccount:{ns}:{name}"
    return False


def _pretty_groups(user: User) -> str:
    return json.dumps(list(user.groups), separators=(",", ":")).replace(",", ", ")


def forbidden_message(user: User, a: Attributes) -> str:
    """kube-apiserver's wording: `User "x" cannot list resource "secrets" in API group "" in the namespace "y"`."""
    if not a.resource_request:
        return f'forbidden: User "{user.name}" cannot {a.verb} path "{a.path}"'
    combined = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    what = f"{a.resource}.{a.group}" if a.group else a.resource
    subject = f'{what} "{a.name}"' if a.name else what
    return (f'{subject} is forbidden: User "{user.name}" cannot {a.verb} resource "{combined}" '
            f'in API group "{a.group}"{where}')


def forbidden_error(user: User, a: Attributes) -> ApiError:
    details: Obj = {"kind": a.resource} if a.resource_request else {}
    if a.name:
        details["name"] = a.name
    if a.group:
        details["group"] = a.group
    return ApiError(403, "Forbidden", forbidden_message(user, a), details=details)


class Authorizer:
    """Answers "may this user do that?" from the RBAC objects in the store."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self._version: tuple[tuple[int, int], ...] = ()
        self._role_rules: dict[str, list[Rule]] = {}
        self._user_rules: dict[tuple[str, tuple[str, ...], str], list[Rule]] = {}

    def _fresh(self) -> None:
        """Drop the memoised rules when any RBAC object changed (each change has a new resourceVersion)."""
        version = []
        for plural in ("clusterroles", "clusterrolebindings", "roles", "rolebindings"):
            res = self.core.store.resources.get((RBAC, plural))
            version.append((res.history[-1].rv if res and res.history else 0, res.count if res else 0))
        current = tuple(version)
        if current != self._version or len(self._user_rules) > 10_000:
            self._version = current
            self._role_rules.clear()
            self._user_rules.clear()

    def _list(self, plural: str, namespace: str | None = None) -> Iterator[Obj]:
        res = self.core.store.resources.get((RBAC, plural))
        if res is not None:
            yield from res.iter(namespace)

    def _get(self, plural: str, namespace: str, name: str) -> Obj | None:
        res = self.core.store.resources.get((RBAC, plural))
        return res.get(namespace, name) if res else None

    def cluster_role_rules(self, name: str) -> list[Rule]:
        """The rules of a ClusterRole, with aggregation resolved."""
        self._fresh()
        cached = self._role_rules.get(name)
        if cached is None:
            cached = self._role_rules[name] = self._resolve(name)
        return cached

    def _resolve(self, name: str, _seen: frozenset[str] = frozenset()) -> list[Rule]:
        role = self._get("clusterroles", "", name)
        if role is None or name in _seen:
            return []
        aggregation = role.get("aggregationRule")
        if not isinstance(aggregation, dict):
            return rules_of(role)
        rules: list[Rule] = []
        selectors = []
        for sel in aggregation.get("clusterRoleSelectors") or []:
            try:
                selectors.append(label_selector_from_dict(sel))
            except ValueError:
                continue
        for other in self._list("clusterroles"):
            if other is role:
                continue
            labels = other["metadata"].get("labels") or {}
            if any(s.matches(labels) for s in selectors):
                # An aggregated role selected by another one contributes its own aggregated rules
                # (edit is aggregated into admin, view into edit).
                theirs = (self._resolve(other["metadata"]["name"], _seen | {name})
                          if isinstance(other.get("aggregationRule"), dict) else rules_of(other))
                rules.extend(r for r in theirs if r not in rules)
        return rules

    def _role_ref_rules(self, ref: Any, namespace: str) -> list[Rule]:
        if not isinstance(ref, dict) or ref.get("apiGroup", RBAC) != RBAC:
            return []
        if ref.get("kind") == "ClusterRole":
            return self.cluster_role_rules(str(ref.get("name", "")))
        if ref.get("kind") == "Role" and namespace:
            return rules_of(self._get("roles", namespace, str(ref.get("name", ""))))
        return []

    def rules_for(self, user: User, namespace: str) -> list[Rule]:
        """Every rule that applies to `user` in `namespace` ('' = only cluster-wide bindings), memoised."""
        self._fresh()
        key = (user.name, user.groups, namespace)
        cached = self._user_rules.get(key)
        if cached is None:
            cached = self._user_rules[key] = list(self._collect(user, namespace))
        return cached

    def _collect(self, user: User, namespace: str) -> Iterable[Rule]:
        for crb in self._list("clusterrolebindings"):
            if any(_subject_matches(s, user, "") for s in crb.get("subjects") or []):
                yield from self._role_ref_rules(crb.get("roleRef"), "")
        if namespace:
            for rb in self._list("rolebindings", namespace):
                if any(_subject_matches(s, user, namespace) for s in rb.get("subjects") or []):
                    yield from self._role_ref_rules(rb.get("roleRef"), namespace)

    def allowed(self, user: User, a: Attributes) -> bool:
        if SUPERUSER_GROUP in user.groups:
            return True
        namespace = a.namespace if a.resource_request else ""
        return any(rule.allows(a) for rule in self.rules_for(user, namespace))

    def check(self, user: User, a: Attributes) -> None:
        if not self.allowed(user, a):
            raise forbidden_error(user, a)

    # -- escalation prevention (pkg/registry/rbac/validation) --------------------------------------
    def missing_rules(self, user: User, namespace: str, requested: list[Rule]) -> list[Rule]:
        """The atoms of `requested` that the user does not hold itself in `namespace` ('' = cluster)."""
        if SUPERUSER_GROUP in user.groups:
            return []
        owned = list(self.rules_for(user, namespace))
        return [atom for atom in _breakdown(requested) if not any(covers(o, atom) for o in owned)]

    def escalation_error(self, user: User, *, plural: str, name: str, missing: list[Rule]) -> ApiError:
        listed = "\n".join(_describe(r) for r in missing)
        return ApiError(403, "Forbidden",
                        f'{plural}.{RBAC} "{name}" is forbidden: user "{user.name}" (groups={_pretty_groups(user)}) '
                        f"is attempting to grant RBAC permissions not currently held:\n{listed}",
                        details={"name": name, "group": RBAC, "kind": plural})


def _breakdown(rules: list[Rule]) -> list[Rule]:
    """One rule per (group, resource, verb, name) or (url, verb), as the real validation breaks them down."""
    out: list[Rule] = []
    for rule in rules:
        for verb in rule.verbs:
            if rule.non_resource_urls:
                out.extend(Rule(verbs=(verb,), non_resource_urls=(u,)) for u in rule.non_resource_urls)
                continue
            for group in rule.api_groups:
                for resource in rule.resources:
                    names = rule.resource_names or ("",)
                    out.extend(Rule(verbs=(verb,), api_groups=(group,), resources=(resource,),
                                    resource_names=(n,) if n else ()) for n in names)
    return out


def covers(owner: Rule, atom: Rule) -> bool:
    """Whether `owner` grants everything the single-valued `atom` does (wildcards only on the owner side)."""
    verb = atom.verbs[0]
    if "*" not in owner.verbs and verb not in owner.verbs:
        return False
    if atom.non_resource_urls:
        url = atom.non_resource_urls[0]
        return any(u == "*" or u == url or (u.endswith("*") and url.startswith(u[:-1]))
                   for u in owner.non_resource_urls)
    if owner.non_resource_urls:
        return False
    group, resource = atom.api_groups[0], atom.resources[0]
    if "*" not in owner.api_groups and group not in owner.api_groups:
        return False
    sub = resource.split("/", 1)[1] if "/" in resource else ""
    if not any(r == "*" or r == resource or (sub and r == f"*/{sub}")
               or (r.endswith("/*") and resource.startswith(r[:-1])) for r in owner.resources):
        return False
    if not owner.resource_names:
        return True
    return bool(atom.resource_names) and atom.resource_names[0] in owner.resource_names


def _describe(rule: Rule) -> str:
    parts = []
    if rule.non_resource_urls:
        parts.append(f"NonResourceURLs:{json.dumps(list(rule.non_resource_urls))}")
    else:
        parts.append(f"APIGroups:{json.dumps(list(rule.api_groups))}")
        parts.append(f"Resources:{json.dumps(list(rule.resources))}")
    if rule.resource_names:
        parts.append(f"ResourceNames:{json.dumps(list(rule.resource_names))}")
    parts.append(f"Verbs:{json.dumps(list(rule.verbs))}")
    return "{" + ", ".join(parts) + "}"
