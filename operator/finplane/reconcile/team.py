"""Reconcile one Team: namespace plan -> namespaces -> guard rails and RoleBindings -> usage -> status.

Registered by `handlers.registrations` (`Runtime.add(TeamReconciler(rt))`), in the one shape
(reconcile.shape): what wakes a Team is declared here (`watches`): a capability appearing, going or changing
its spec in one of its namespaces (usage), another Team changing its namespaces (one may free a namespace this
one lists), its own deletion (namespace clean-up). The capability-side checks (TeamMismatch, TeamNotFound,
QuotaExceeded, allow-lists) live in `reconcile.team_gate`, used by the capability reconciler.

Namespaces are applied under their own field manager (`TEAM_FIELD_MANAGER`: the team label and Pod Security
labels are the Team's fields alone) and carry no owner reference: garbage collection would delete a namespace
holding capabilities with its Team. The Team keeps a finalizer instead; when it is deleted (the controller
skips deleting objects, so a watch runs this) it deletes only the namespaces it created that
`spec.namespaceDeletion` allows (DeleteEmpty: those holding no capability), keeps the rest, says what is left
in an event and its last status, and removes the finalizer. The other children carry owner references.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from finplane.kube.errors import KubeError
from finplane.kube.events import post_event
from finplane.models.team import (
    NamespaceDeletion,
    NamespaceState,
    TeamNamespace,
    TeamSpec,
    TeamStatus,
    TeamUsage,
)
from finplane.names import BUSINESS_CAPABILITY
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Refuse, Watch
from finplane.reconcile.team_gate import TEAM, team_admission
from finplane.render.team import CREATED_ANNOTATION, TEAM_LABEL, render_namespace, render_team
from finplane.render.team_checks import NamespaceDecision, namespace_plan, team_of_namespace
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

__all__ = ["FINALIZER", "KIND", "TEAM_FIELD_MANAGER", "TeamReconciler"]

log = logging.getLogger("finplane.team")
KIND = TEAM
FINALIZER = "finplane.io/team-namespaces"
TEAM_FIELD_MANAGER = "finplane-team"
Obj = dict[str, Any]
#: Pruned by owner label: bindings the spec or settings no longer render (members, the chart's ClusterRole), and
#: everything in a namespace the Team no longer lists (it is released for another Team to adopt).
PRUNE = (("rbac.authorization.k8s.io/v1", "RoleBinding"), ("rbac.authorization.k8s.io/v1", "Role"),
         ("networking.k8s.io/v1", "NetworkPolicy"), ("v1", "ResourceQuota"), ("v1", "LimitRange"))


def _listed(body: Obj | None) -> set[str]:
    return set(((body or {}).get("spec") or {}).get("namespaces") or [])


class TeamReconciler(KindReconciler[TeamSpec]):
    kind = KIND
    spec_model = TeamSpec

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self._deleting: dict[str, asyncio.Task[bool]] = {}  # uid -> the clean-up task of a deleted Team
        # uids whose clean-up finished: the echoes of its own status write (the finalizer still listed until its
        # patch lands) must not start a second clean-up, which would find every namespace already Left and post
        # "kept no namespace" over the true summary. Dropped when the Team's DELETED event arrives.
        self._cleaned: set[str] = set()

    def watches(self) -> list[Watch]:
        return [Watch(BUSINESS_CAPABILITY, self._capability_changed), Watch(KIND, self._team_changed)]

    # -- what wakes a Team ------------------------------------------------------------------------------
    def _capability_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec"):
            return []
        team = team_of_namespace(new["metadata"].get("namespace", ""), self.rt.stores.get(KIND, {}).values())
        return [("", team)] if team else []

    def _team_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        meta = new["metadata"]
        uid = str(meta.get("uid"))
        if event == "DELETED":
            self._cleaned.discard(uid)
        elif meta.get("deletionTimestamp") and FINALIZER in (meta.get("finalizers") or []) and \
                not self.rt.is_paused():  # a standby leaves it to the active replica (or to its replay on resuming)
            if uid not in self._deleting and uid not in self._cleaned:
                task = asyncio.get_running_loop().create_task(self._clean_up(new))
                self._deleting[uid] = task
                task.add_done_callback(self._done(uid))
        if old is not None and event != "DELETED" and new.get("spec") == old.get("spec") and \
                (new.get("status") or {}).get("namespaces") == (old.get("status") or {}).get("namespaces"):
            return []
        shared = _listed(new) | _listed(old)
        return [k for k, b in self.rt.stores.get(KIND, {}).items() if k[1] != meta["name"] and _listed(b) & shared]

    def _done(self, uid: str) -> Callable[[asyncio.Task[bool]], None]:
        def forget(task: asyncio.Task[bool]) -> None:
            self._deleting.pop(uid, None)
            if not task.cancelled() and task.exception() is None and task.result():
                self._cleaned.add(uid)  # finished: only a failed clean-up is started again by a later event
        return forget

    # -- one pass -----------------------------------------------------------------------------------------
    async def reconcile(self, p: Pass[TeamSpec]) -> Outcome:
        rt, body, spec, name = self.rt, p.body, p.spec, p.name
        meta = body["metadata"]
        if FINALIZER not in (meta.get("finalizers") or []):
            await rt.kube.patch_merge(body["apiVersion"], KIND, name,
                                      {"metadata": {"finalizers": [*(meta.get("finalizers") or []), FINALIZER]}})
        live: dict[str, Obj | None] = {}
        for ns in spec.namespaces:
            live[ns] = obj = await rt.kube.get_or_none("v1", "Namespace", ns)
            if obj is not None and obj["metadata"].get("deletionTimestamp"):
                return Outcome([], requeue_after=2.0)  # not yet: it is still terminating
        plan = namespace_plan(
            name=name, spec=spec, teams=list(rt.stores.get(KIND, {}).values()),
            live_labels={ns: (obj["metadata"].get("labels") or {}) if obj else None for ns, obj in live.items()},
            own_namespace=rt.settings.pod_namespace, extra_reserved=rt.settings.admission_protected_namespaces,
            created_before=[ns for ns, obj in live.items()
                            if obj and (obj["metadata"].get("annotations") or {}).get(CREATED_ANNOTATION) == name])
        held = [d.namespace for d in plan if d.state != NamespaceState.REFUSED]
        for d in plan:
            if d.state == NamespaceState.REFUSED:
                log.warning("Team %s: %s", name, d.message)
                continue
            want = render_namespace(name=name, namespace=d.namespace, created=d.state == NamespaceState.CREATED)
            if _differs(want, live[d.namespace]):
                await rt.kube.apply(want, field_manager=TEAM_FIELD_MANAGER)
                log.info("%s Namespace/%s for Team %s", "Created" if live[d.namespace] is None else "Labelled",
                         d.namespace, name)
        before = [str(n.get("name")) for n in (body.get("status") or {}).get("namespaces") or []
                  if n.get("state") in (NamespaceState.CREATED, NamespaceState.ADOPTED)]
        left = [ns for ns in before if ns not in spec.namespaces]
        for ns in left:  # released: the team label goes (Pod Security stays); its children are pruned below
            await rt.kube.apply(_released(ns), field_manager=TEAM_FIELD_MANAGER)
            log.info("Released Namespace/%s from Team %s", ns, name)
        await p.apply(render_team(name=name, spec=spec, namespaces=held, settings=rt.settings),
                      prune_kinds=PRUNE, prune_namespaces=tuple(held + left), conflict="remove that object")
        return self._outcome(name, spec, plan, left)

    def _outcome(self, name: str, spec: TeamSpec, plan: list[NamespaceDecision], left: list[str]) -> Outcome:
        admission = team_admission(self.rt, name, spec)
        namespaces = [TeamNamespace(name=d.namespace, state=NamespaceState(d.state),
                                    capabilities=self._capabilities_in(d.namespace),
                                    **({"message": d.message} if d.message else {})) for d in plan]
        namespaces += [TeamNamespace(name=ns, state=NamespaceState.LEFT, capabilities=self._capabilities_in(ns),
                                     message="no longer listed in spec.namespaces: released (team label, "
                                             "bindings and guard rails removed; Pod Security labels kept)")
                       for ns in left]
        refused = [d for d in plan if d.state == NamespaceState.REFUSED]
        ready = Cond(ConditionType.READY, "False", "NamespaceRefused", "; ".join(str(d.message) for d in refused)) \
            if refused else Cond(ConditionType.READY, "True", Reason.PROVISIONED,
                                 f"{len(plan)} namespace(s) and their guard rails are in place")
        over = sorted(admission.refused)
        quota = Cond("QuotaExceeded", "True", "QuotaExceeded", f"{len(over)} capability(ies) refused: " + ", ".join(
            f"{ns}/{n}" for ns, n in over[:10])) if over else \
            Cond("QuotaExceeded", "False", "WithinQuota", "every capability of the team fits its quota")
        usage = admission.usage()
        status = TeamStatus(namespaces=namespaces, namespace_count=len(plan) - len(refused),
                            usage=TeamUsage(cpu=str(usage["cpu"]), memory=str(usage["memory"]),
                                            pods=int(str(usage["pods"])), capabilities=int(str(usage["capabilities"]))),
                            refused_capabilities=[f"{ns}/{n}" for ns, n in over])
        return Outcome([ready, quota], status=status)

    def refused(self, body: Obj, refusal: Refuse) -> Outcome:
        return Outcome([Cond(ConditionType.READY, "False", refusal.reason, refusal.message)])

    def _capabilities_in(self, ns: str) -> int:
        return sum(1 for (cns, _) in self.rt.stores.get(BUSINESS_CAPABILITY, {}) if cns == ns)

    # -- deletion ------------------------------------------------------------------------------------------
    async def _clean_up(self, body: Obj) -> bool:
        """True once the namespaces are settled, the event posted and the finalizer removed."""
        try:
            await self._delete(body)
        except KubeError as exc:  # the next event of the deleting Team (or the drift timer's relist) retries
            log.warning("Could not finish deleting Team %s: %s", body["metadata"]["name"], exc.message)
            return False
        return True

    async def _delete(self, body: Obj) -> None:
        """Remove the namespaces the Team may remove, keep the rest, say so, drop the finalizer."""
        rt, meta = self.rt, body["metadata"]
        name = meta["name"]
        try:
            policy = TeamSpec.model_validate(body.get("spec") or {}).namespace_deletion
        except ValidationError:
            policy = NamespaceDeletion.KEEP
        kept: list[TeamNamespace] = []
        deleted: list[str] = []
        for entry in (body.get("status") or {}).get("namespaces") or []:
            ns = str(entry.get("name"))
            live = await rt.kube.get_or_none("v1", "Namespace", ns) \
                if entry.get("state") in (NamespaceState.CREATED, NamespaceState.ADOPTED) else None
            if live is None:
                continue
            caps = self._capabilities_in(ns)
            created = (live["metadata"].get("annotations") or {}).get(CREATED_ANNOTATION) == name
            mine = (live["metadata"].get("labels") or {}).get(TEAM_LABEL) == name
            if mine and created and (policy is NamespaceDeletion.DELETE or
                                     (policy is NamespaceDeletion.DELETE_EMPTY and caps == 0)):
                await rt.kube.delete("v1", "Namespace", ns)
                deleted.append(ns)
                log.info("Deleted Namespace/%s with Team %s", ns, name)
            else:
                why = "adopted" if not created else f"holds {caps} capability(ies)" if caps else \
                    f"namespaceDeletion is {policy}"
                kept.append(TeamNamespace(name=ns, state=NamespaceState.LEFT, capabilities=caps, message=f"kept: {why}"))
        summary = (f"Team deleted: kept {', '.join(f'{k.name} ({k.message})' for k in kept) or 'no namespace'}; "
                   f"deleted {', '.join(deleted) or 'no namespace'}")
        log.info("%s: %s", name, summary)
        await post_event(rt.kube, body, type_="Normal", reason="TeamDeleted", message=summary)
        controller = rt.controllers[KIND]
        await controller.write(body, Outcome([Cond(ConditionType.READY, "False", "Deleted", summary)],
                                             status=TeamStatus(namespaces=kept, namespace_count=0)))
        await rt.kube.patch_merge(body["apiVersion"], KIND, name, {"metadata": {"finalizers": [
            f for f in meta.get("finalizers") or [] if f != FINALIZER]}})


def _released(namespace: str) -> Obj:
    """The Namespace as the Team applies it when it lets go: only the Pod Security labels remain its fields."""
    labels = {k: v for k, v in render_namespace(name="", namespace=namespace, created=False)["metadata"]["labels"].items()
              if k.startswith("pod-security.kubernetes.io/")}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}}


def _differs(want: Obj, live: Obj | None) -> bool:
    """Whether the live Namespace lacks some of the Team's labels or annotations (an unchanged Team writes nothing)."""
    if live is None:
        return True
    for part in ("labels", "annotations"):
        have = live["metadata"].get(part) or {}
        if any(have.get(k) != v for k, v in (want["metadata"].get(part) or {}).items()):
            return True
    return False
