"""The admission chain run by the write path: mutating plugins, then validating ones.

Wired into `Core.admission` by `app.build_app` and called by `writes.create` (mutate, then validate)
and `writes.replace` (validate) for writes a client makes; writes the server makes itself (bootstrap,
garbage collection, the simulated controllers) run no admission, as they stand for kube-apiserver's
own loopback and kube-controller-manager. In order, like kube-apiserver's default plugin order:
ServiceAccount and DefaultTolerationSeconds (mutating, Pods), then the RBAC escalation check on Role,
ClusterRole, RoleBinding and ClusterRoleBinding writes (kube-apiserver does it in the RBAC storage),
PodSecurity, and ValidatingAdmissionPolicy. Warnings go to the request context and become
`Warning` headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from finplane_emulator import (
    admission_context,
    admission_podsecurity,
    admission_serviceaccount,
    admission_vap,
)
from finplane_emulator.authn import User
from finplane_emulator.core import Core
from finplane_emulator.errors import forbidden
from finplane_emulator.rbac import RBAC, SUPERUSER_GROUP, Attributes, Authorizer, Rule, rules_of
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.tokens import Signer

__all__ = ["PLUGINS", "Admission"]

Obj = dict[str, Any]
FULL_AUTHORITY = [Rule(verbs=("*",), api_groups=("*",), resources=("*",)), Rule(verbs=("*",), non_resource_urls=("*",))]
PLUGINS = ("ServiceAccount", "DefaultTolerationSeconds", "PodSecurity", "ValidatingAdmissionPolicy")


@dataclass
class Admission:
    core: Core
    signer: Signer
    plugins: frozenset[str] = field(default_factory=frozenset)
    authorizer: Authorizer | None = None  # RBAC mode: escalation prevention on role and binding writes

    def mutate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str) -> None:
        if admission_context.current() is None or operation != "CREATE" or info.group != "":
            return
        if info.plural == "pods":
            if "ServiceAccount" in self.plugins:
                admission_serviceaccount.mutate_pod(self.core, obj)
            if "DefaultTolerationSeconds" in self.plugins:
                admission_serviceaccount.default_tolerations(obj)
        elif info.plural == "secrets" and "ServiceAccount" in self.plugins:
            admission_serviceaccount.fill_token_secret(self.core, self.signer, obj)

    def validate(self, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str, subresource: str) -> None:
        ctx = admission_context.current()
        if ctx is None:
            return
        if self.authorizer is not None and info.group == RBAC and not subresource:
            self._no_escalation(ctx.user, info, obj)
        if "PodSecurity" in self.plugins:
            ctx.warnings.extend(admission_podsecurity.evaluate(self.core, info=info, obj=obj, old=old,
                                                               operation=operation, subresource=subresource))
        if "ValidatingAdmissionPolicy" in self.plugins:
            ctx.warnings.extend(admission_vap.evaluate(self.core, info=info, obj=obj, old=old, operation=operation,
                                                       subresource=subresource, user=ctx.user))

    def _no_escalation(self, user: User, info: ResourceInfo, obj: Obj) -> None:
        """A Role write needs its rules held (or `escalate`); a binding needs the role's rules (or `bind`)."""
        authorizer = self.authorizer
        assert authorizer is not None
        if SUPERUSER_GROUP in user.groups:
            return
        md = obj["metadata"]
        name, namespace = md.get("name", ""), md.get("namespace", "") if info.namespaced else ""
        if info.plural in ("roles", "clusterroles"):
            if authorizer.allowed(user, Attributes(verb="escalate", group=RBAC, resource=info.plural,
                                                   namespace=namespace, name=name)):
                return
            if info.plural == "clusterroles" and isinstance(obj.get("aggregationRule"), dict):
                # an aggregation rule can gather anything: kube-apiserver asks for full authority
                if authorizer.missing_rules(user, "", FULL_AUTHORITY):
                    raise forbidden(plural=info.plural, group=RBAC, name=name,
                                    why="must have cluster-admin privileges to use the aggregationRule")
                requested = [] if obj.get("rules") is None else rules_of(obj)
            else:
                requested = rules_of(obj)
            missing = authorizer.missing_rules(user, namespace, requested)
        elif info.plural in ("rolebindings", "clusterrolebindings"):
            ref = obj.get("roleRef") or {}
            kind, ref_name = ref.get("kind"), str(ref.get("name", ""))
            plural = "clusterroles" if kind == "ClusterRole" else "roles"
            if authorizer.allowed(user, Attributes(verb="bind", group=RBAC, resource=plural,
                                                   namespace=namespace if plural == "roles" else namespace,
                                                   name=ref_name)):
                return
            rules: list[Rule] = (authorizer.cluster_role_rules(ref_name) if kind == "ClusterRole" else
                                 rules_of(self.core.store.resources[(RBAC, "roles")].get(namespace, ref_name)
                                          if (RBAC, "roles") in self.core.store.resources else None))
            missing = authorizer.missing_rules(user, namespace, rules)
        else:
            return
        if missing:
            raise authorizer.escalation_error(user, plural=info.plural, name=name, missing=missing)
