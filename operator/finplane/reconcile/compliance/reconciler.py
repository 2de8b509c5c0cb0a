"""Reconcile CompliancePolicies: evaluate the selected objects, record evidence, write PolicyReports,
the rolled-up `Compliant` conditions and the policy's status; in enforce mode, render native enforcement.

One `KindReconciler`, added by `handlers.registrations`. A policy is re-evaluated when it changes,
when a selected Finplane object changes its spec or labels (`watches`), and at the next waiver expiry
(`requeue_after`: an expired waiver stops applying at once, with an event and an evidence entry).

Evidence goes to the process's one log (`Runtime.recorder.log`). On its first pass over a policy the
reconciler checks that the log reaches the head recorded in the policy's `status.evidence.headHash`
(a log truncated or replaced while the operator was down). A corrupt log (that, a shrunk or edited
log seen by any pass, or an append refused) makes the policy `Ready=False` / `EvidenceCorrupt`;
evaluation, reports and rollup go on, the recorded head is left as it was (never moved to a corrupt
log's head), and nothing is retried in a loop: the next event or drift resync looks again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from finplane import API_VERSION
from finplane.kube.errors import KubeError, NotFound
from finplane.kube.events import post_event
from finplane.models.compliance_policy import (
    CompliancePolicySpec,
    CompliancePolicyStatus,
    EvidenceStatus,
    Mode,
    RuleSummary,
)
from finplane.names import (
    BUSINESS_CAPABILITY,
    CHANNEL,
    COMPLIANCE_POLICY,
    IMAGE_REGISTRY,
    TEAM,
    TENANT_SANDBOX,
)
from finplane.policy.admission import (
    admission_options,
    outside_protected,
    protected_namespaces,
    psa_labels,
    render_admission_policy,
)
from finplane.policy.engine import Result, evaluate, object_key
from finplane.policy.evidence import EvidenceCorrupt, EvidenceLog
from finplane.policy.report import render_reports
from finplane.reconcile.children import SyncResult
from finplane.reconcile.compliance.context import gather
from finplane.reconcile.compliance.evidence import record_changes, since_map
from finplane.reconcile.compliance.openreports import combine, write_openreports
from finplane.reconcile.compliance.rollup import ROLLUP_KINDS, compliant_condition, write_compliant
from finplane.reconcile.runtime import Key, Runtime
from finplane.reconcile.shape import KindReconciler, Outcome, Pass, Watch
from finplane.status.conditions import Cond, now_iso
from finplane.status.vocabulary import ConditionType, Reason, condition_of

__all__ = ["KIND", "ComplianceReconciler", "ComplianceState"]

log = logging.getLogger("finplane.compliance")
KIND = COMPLIANCE_POLICY
T = ConditionType
Obj = dict[str, Any]
# Reports and admission policies are synced separately: a cluster without the PolicyReport CRDs (or with
# either switched off) still gets the other, and each pass prunes only the kinds it may touch.
REPORT_KINDS = (("wgpolicyk8s.io/v1alpha2", "PolicyReport"), ("wgpolicyk8s.io/v1alpha2", "ClusterPolicyReport"))
MAX_REPORT_RESULTS = 200  # results per report, failures first (the summary counts every result)
ADMISSION_KINDS = (("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"),
                   ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"))
VIOLATIONS = Gauge("finplane_compliance_violations", "Failing results by policy, rule, severity and team.",
                   ["policy", "rule", "severity", "team"])
WAIVER_EXPIRY = Gauge("finplane_compliance_waiver_expiry_timestamp_seconds",
                      "Expiry of each active waiver (Unix time).", ["policy", "waiver", "rule"])


class ComplianceState:
    """What the compliance controller remembers between passes (per operator process)."""

    def __init__(self, evidence: EvidenceLog) -> None:
        self.evidence = evidence  # the runtime recorder's log: one writer per process
        self.anchored: set[str] = set()  # uids of policies whose recorded head was compared with the log
        self.results: dict[str, list[Result]] = {}  # policy -> results
        self.desired: dict[str, Cond] = {}  # object key -> Compliant condition last written
        self.shippers: dict[str, Any] = {}  # bucket -> S3EvidenceShipper
        self.queued = 0
        self.last_shipped: str | None = None


class ComplianceReconciler(KindReconciler[CompliancePolicySpec]):
    kind = KIND
    spec_model = CompliancePolicySpec

    def __init__(self, rt: Runtime) -> None:
        super().__init__(rt)
        self.state = ComplianceState(rt.recorder.log)

    def watches(self) -> list[Watch]:
        return [*(Watch(kind, self._selected_changed) for kind in ROLLUP_KINDS), Watch(KIND, self._policy_changed)]

    def _selected_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        """A selected object changed its spec, labels or namespace, or lost the Compliant condition we wrote."""
        meta, old_meta = new.get("metadata", {}), (old or {}).get("metadata", {})
        want = self.state.desired.get(object_key(new.get("kind", ""), meta.get("namespace") or "", meta.get("name", "")))
        have = condition_of(new, ConditionType.COMPLIANT)
        relevant = event in ("ADDED", "DELETED", "LISTED") or old is None or \
            meta.get("generation") != old_meta.get("generation") or meta.get("labels") != old_meta.get("labels") or \
            (new.get("status") or {}).get("namespace") != ((old or {}).get("status") or {}).get("namespace") or \
            (want is not None and event != "DELETED" and
             (have is None or (have.get("status"), have.get("message")) != (want.status, want.message)))
        return list(self.rt.stores.get(KIND, {})) if relevant else []

    def _policy_changed(self, event: str, new: Obj, old: Obj | None) -> Iterable[Key]:
        if event == "DELETED":
            self.state.results.pop(new["metadata"]["name"], None)
            return list(self.rt.stores.get(KIND, {}))  # the others roll the Compliant conditions up again
        return []

    async def reconcile(self, p: Pass[CompliancePolicySpec]) -> Outcome:
        rt, body, spec, name, state = self.rt, p.body, p.spec, p.name, self.state
        now = datetime.now(UTC)
        subjects, ctx = await gather(rt.kube, rt.settings, spec, rt.stores)
        results = evaluate(spec, name, subjects, ctx, now=now)
        # First catch up with the record (the other writers' chains too): a standby that replayed it when it
        # started, before the leader recorded anything, must guard the results recorded since (issue 19's CI).
        corrupt = _check_log(state, body)
        behind = await _store_behind(rt, state.evidence, name, results)
        if behind is not None:
            # A new leader (failover) or a fresh start fills its stores object by object: an object the
            # evidence names is not in the store yet, but the API server has it. Recording "removed" (and
            # writing reports without it) would be false evidence: look again once the store has caught up.
            log.info("CompliancePolicy %s: %s is not in the operator's store yet; evaluating again shortly",
                     name, behind)
            return Outcome([], requeue_after=1.0)
        state.results[name] = results
        changes: list[tuple[str, str]] = []
        if corrupt is None:
            try:
                changes = record_changes(state.evidence, name, spec, results, now=now)
                state.evidence.witness(now=now)  # the other writers' chain heads, so none can be cut unseen
            except (EvidenceCorrupt, OSError) as exc:
                corrupt = exc if isinstance(exc, EvidenceCorrupt) else EvidenceCorrupt(f"cannot append: {exc}")
        for event, waiver in changes:
            expired = event == "WaiverExpired"  # capabilities wake at the same instant (CapabilityReconciler)
            await post_event(rt.kube, body, type_="Warning" if expired else "Normal", reason=event,
                             message=f"waiver {waiver} {'expired: its results count as failures again' if expired else 'applies'}")
        _metrics(name, spec, results, now)

        conds = [_corrupt_condition(corrupt, rt.recorder.dropped) if corrupt is not None else
                 Cond(ConditionType.READY, "True", Reason.EVALUATED,
                      f"{len(subjects)} objects considered, {len(results)} results")]
        shipped = await _ship(rt, state, spec)
        if shipped is not None:
            conds.append(shipped)
        conds.append(await _write_reports(p, name, spec, results, state))
        admission = await _write_admission_policies(p, name, spec, now)
        if admission is not None:
            conds.append(admission)
        if spec.mode == Mode.ENFORCE:
            await _label_namespaces(rt, spec, results)
        await _rollup(rt, state)
        upcoming = [(w.expires_at - now).total_seconds() + 0.05 for w in spec.waivers if w.active(now=now)]
        if state.queued:
            upcoming.append(30.0)  # try the evidence store again; entries wait in the local log
        return Outcome(conds, status=_status(body, results, state, corrupt=corrupt is not None),
                       requeue_after=min(upcoming) if upcoming else None)


_STORED_KINDS = frozenset({BUSINESS_CAPABILITY, CHANNEL, TENANT_SANDBOX, IMAGE_REGISTRY, TEAM})


async def _store_behind(rt: Runtime, evidence: EvidenceLog, policy: str, results: list[Result]) -> str | None:
    """An object with a recorded result that this evaluation lost only because the operator's store has not
    listed it yet (the API server still has it), or None. Removals are rare, so each is confirmed with a GET."""
    current = {r.key for r in results}
    checked = 0
    for key, before in sorted(evidence.results.items()):
        if before.get("policy") != policy or key in current or before.get("result") == "removed":
            continue
        kind, _, rest = str(before.get("object") or "").partition("/")
        ns, _, obj_name = rest.rpartition("/")
        store = rt.stores.get(kind) if kind in _STORED_KINDS else None
        if store is None or not obj_name or (ns, obj_name) in store or checked >= 20:
            continue  # not a kind kept in a store (listed afresh), or in the store and no longer selected
        checked += 1
        if await rt.kube.get_or_none(API_VERSION, kind, obj_name, ns or None) is not None:
            return str(before.get("object"))
    return None


def _check_log(state: ComplianceState, body: Obj) -> EvidenceCorrupt | None:
    """Is the log whole (and, on the first pass over this policy, does it reach the head in its status)?"""
    log_ = state.evidence
    uid = str(body["metadata"].get("uid"))
    head = ((body.get("status") or {}).get("evidence") or {}).get("headHash")
    if uid not in state.anchored and isinstance(head, str) and head:
        state.anchored.add(uid)
        found = log_.check_anchor(head, source=f"the status of CompliancePolicy {body['metadata']['name']}")
        if found is not None:
            return found
    try:
        log_.check()
    except EvidenceCorrupt as exc:
        return exc
    except OSError as exc:
        return EvidenceCorrupt(f"cannot append: {exc}")
    return log_.record_problem()  # another writer's chain removed, cut short or broken


def _corrupt_condition(exc: EvidenceCorrupt, dropped: int) -> Cond:
    c = exc.condition()
    extra = f"; {dropped} operator event(s) could not be recorded meanwhile" if dropped else ""
    return Cond(c["type"], c["status"], c["reason"], (c["message"] + extra)[:1024])


def _resource_missing(exc: KubeError) -> bool:
    """A 404 for the resource itself (its CRD or API is not served), not for one object or its namespace."""
    return isinstance(exc, NotFound) and not (exc.body.get("details") or {}).get("name")


async def _write_reports(p: Pass[CompliancePolicySpec], name: str, spec: CompliancePolicySpec,
                         results: list[Result], state: ComplianceState) -> Cond:
    """PolicyReports and ClusterPolicyReports, unless switched off; the ReportsWritten condition says which.

    Failures are reported, not raised: retrying cannot install a CRD or grant RBAC, and the policy's own
    status and the Compliant conditions are still worth writing. The next event or drift resync tries again.
    """
    if not p.settings.policy_reports_enabled:
        return Cond(T.REPORTS_WRITTEN, "False", Reason.DISABLED,
                    "PolicyReports are switched off (FINPLANE_POLICY_REPORTS_ENABLED=false, chart value "
                    "features.policyReports); results are in this policy's status and the Compliant conditions")
    reports = render_reports(name, results, mode=str(spec.mode), since=since_map(state.evidence, results),
                             max_results=MAX_REPORT_RESULTS)
    api = p.settings.policy_report_api  # OpenReports beside or instead of wgpolicyk8s.io (compliance.openreports)
    opened = await write_openreports(p, reports, max_results=MAX_REPORT_RESULTS) if api != "wgpolicyk8s" else None
    if opened is not None and api == "openreports":
        return opened
    written = await _write_policy_reports(p, reports)
    return written if opened is None else combine(written, opened)


async def _write_policy_reports(p: Pass[CompliancePolicySpec], reports: list[Obj]) -> Cond:
    try:
        result = await p.apply(reports, prune_kinds=REPORT_KINDS, refuse=False, cached=False)
    except KubeError as exc:
        if _resource_missing(exc):
            return Cond(T.REPORTS_WRITTEN, "False", Reason.CRD_MISSING,
                        "the wgpolicyk8s.io PolicyReport/ClusterPolicyReport CRDs are not installed: install them "
                        "(crds/extra/, or the chart with features.policyReportCRDs=true), or switch reports off "
                        "with FINPLANE_POLICY_REPORTS_ENABLED=false")
        return Cond(T.REPORTS_WRITTEN, "False", Reason.REPORT_WRITE_FAILED, exc.message[:512])
    problem = _apply_problem(result, T.REPORTS_WRITTEN)
    if problem is not None:
        return problem
    return Cond(T.REPORTS_WRITTEN, "True", Reason.REPORTS_WRITTEN, f"{len(reports)} PolicyReport(s) written")


def _apply_problem(result: SyncResult, type_: str) -> Cond | None:
    """A report or admission policy of another owner under our name (nothing was written), or one refused."""
    if result.conflicts:
        return Cond(type_, "False", Reason.NAME_CONFLICT, f"{', '.join(result.conflicts)} already exists and is not "
                    "managed by this policy; nothing was written: remove or rename that object")
    if result.refused is not None:
        return Cond(type_, "False", result.refused.reason,
                    f"the API server refused {result.refused.child}: {result.refused.message}"[:512])
    return None


async def _write_admission_policies(p: Pass[CompliancePolicySpec], name: str, spec: CompliancePolicySpec,
                                    now: datetime) -> Cond | None:
    """ValidatingAdmissionPolicy + binding in enforce mode (pruned otherwise); None when there is nothing to say."""
    enforce = spec.mode == Mode.ENFORCE
    if not p.settings.admission_policies_enabled:
        if not enforce:
            return None
        return Cond(T.ADMISSION_POLICIES_WRITTEN, "False", Reason.DISABLED,
                    "ValidatingAdmissionPolicies are switched off (FINPLANE_ADMISSION_POLICIES_ENABLED=false, chart "
                    "value features.admissionPolicies); the operator still refuses violating capabilities")
    policies = render_admission_policy(name, spec, now=now, **admission_options(p.settings)) if enforce else []
    try:
        result = await p.apply(policies, prune_kinds=ADMISSION_KINDS, refuse=False, cached=False)
    except KubeError as exc:
        if not enforce:
            return None  # only pruning leftovers failed: nothing this policy needs
        return Cond(T.ADMISSION_POLICIES_WRITTEN, "False", Reason.ADMISSION_POLICY_WRITE_FAILED, exc.message[:512])
    if not enforce:
        return None
    problem = _apply_problem(result, T.ADMISSION_POLICIES_WRITTEN)
    if problem is not None:
        return problem
    return Cond(T.ADMISSION_POLICIES_WRITTEN, "True", Reason.WRITTEN,
                f"{len(policies)} ValidatingAdmissionPolicy object(s) written")


async def _ship(rt: Runtime, state: ComplianceState, spec: CompliancePolicySpec) -> Cond | None:
    """Ship new evidence entries to S3 (Object Lock) when configured; the local log queues them meanwhile."""
    s3 = spec.evidence.s3 if spec.evidence else None
    bucket = s3.bucket if s3 else rt.settings.evidence_s3_bucket
    if not bucket:
        return None
    shipper = state.shippers.get(bucket)
    if shipper is None:
        from finplane.external.s3_evidence import S3EvidenceShipper  # boto3 only when shipping is configured

        shipper = S3EvidenceShipper(bucket=bucket, prefix=s3.prefix if s3 else "finplane/evidence/",
                                    region=(s3.region if s3 else None) or rt.settings.aws_region or "us-east-1",
                                    retention_days=s3.retention_days if s3 else 2557,
                                    endpoint_url=rt.settings.aws_endpoint_url,
                                    state_dir=Path(rt.settings.evidence_dir))
        state.shippers[bucket] = shipper
    result = await asyncio.to_thread(shipper.ship_record, state.evidence.record)  # every writer's chain
    state.queued = result.queued
    if result.shipped:
        state.last_shipped = now_iso()
    if result.error:
        return Cond(T.EVIDENCE_SHIPPED, "False", Reason.EVIDENCE_STORE_UNREACHABLE,
                    f"{result.queued} entries queued locally, none dropped; {result.error}")
    return Cond(T.EVIDENCE_SHIPPED, "True", Reason.SHIPPED, f"evidence shipped to s3://{bucket}")


def _metrics(name: str, spec: CompliancePolicySpec, results: list[Result], now: datetime) -> None:
    counts: dict[tuple[str, str, str], int] = {}
    for r in results:
        if r.result == "fail":
            k = (r.rule, r.severity, r.team or "-")
            counts[k] = counts.get(k, 0) + 1
    for labels in [tuple(s.labels.values()) for m in VIOLATIONS.collect() for s in m.samples]:
        if labels[0] == name and labels[1:] not in counts:
            VIOLATIONS.labels(*labels).set(0)
    for (rule, severity, team), n in counts.items():
        VIOLATIONS.labels(name, rule, severity, team).set(n)
    for w in spec.waivers:
        if w.active(now=now):
            WAIVER_EXPIRY.labels(name, w.name, str(w.rule_id)).set(w.expires_at.timestamp())
        else:
            try:
                WAIVER_EXPIRY.remove(name, w.name, str(w.rule_id))
            except KeyError:
                pass


async def _label_namespaces(rt: Runtime, spec: CompliancePolicySpec, results: list[Result]) -> None:
    """Pod Security Admission labels on the namespaces of selected workloads (enforce mode only)."""
    labels = psa_labels(spec)
    namespaces = {r.namespace for r in results if r.namespace and r.kind in ("BusinessCapability", "Deployment", "Pod")}
    for ns in outside_protected(namespaces, protected_namespaces(rt.settings)):
        live = await rt.kube.get_or_none("v1", "Namespace", ns)
        have = (live or {}).get("metadata", {}).get("labels") or {}
        if live is not None and any(have.get(k) != v for k, v in labels.items()):
            await rt.kube.patch_merge("v1", "Namespace", ns, {"metadata": {"labels": labels}})
            log.info("Labelled namespace %s for Pod Security Admission (restricted)", ns)


async def _rollup(rt: Runtime, state: ComplianceState) -> None:
    by_object: dict[str, list[Result]] = {}
    for results in state.results.values():
        for r in results:
            by_object.setdefault(r.object, []).append(r)
    for kind in ROLLUP_KINDS:
        for (ns, n), body in list(rt.stores.get(kind, {}).items()):
            okey = object_key(kind, ns, n)
            if okey not in by_object and okey not in state.desired:
                continue  # never selected: leave the object alone
            want = compliant_condition(by_object.get(okey, []))
            state.desired[okey] = want
            await write_compliant(rt.kube, body, want)


def _status(body: Obj, results: list[Result], state: ComplianceState, *, corrupt: bool = False
            ) -> CompliancePolicyStatus:
    """Counts per object and per rule, the evidence state; lastEvaluationTime moves only when they change.

    With a corrupt log the recorded head stays what it was: a corrupt log's head anchors nothing."""
    per_object: dict[str, set[str]] = {}
    rules: dict[str, RuleSummary] = {}
    for r in results:
        per_object.setdefault(r.object, set()).add(r.result)
        # by alias: "pass" is a Python keyword, so the field is `passed` (mypy without the pydantic plugin
        # accepts only the alias, the plugin only the name); every count is set so zeros are written too
        row = rules.setdefault(r.rule, RuleSummary.model_validate({"id": r.rule, "pass": 0, "fail": 0, "skip": 0}))
        if r.result == "pass":
            row.passed += 1
        elif r.result == "skip":
            row.skip += 1
        else:
            row.fail += 1
    status = CompliancePolicyStatus(
        violating=sum(1 for s in per_object.values() if s & {"fail", "error"}),
        waived=sum(1 for s in per_object.values() if "skip" in s and not s & {"fail", "error"}),
        compliant=sum(1 for s in per_object.values() if s <= {"pass"}),
        rules=[rules[k] for k in sorted(rules)],
        evidence=(evidence := EvidenceStatus(head_hash=state.evidence.head, queued=state.queued,
                                             last_shipped_time=state.last_shipped)))
    old = body.get("status") or {}
    recorded = (old.get("evidence") or {}).get("headHash")
    if corrupt and isinstance(recorded, str) and recorded:
        evidence.head_hash = recorded
    counts = status.model_dump(by_alias=True, mode="json", include={"violating", "waived", "compliant", "rules"})
    same = all(old.get(k) == v for k, v in counts.items()) and \
        recorded == evidence.head_hash and \
        (old.get("evidence") or {}).get("queued", 0) == state.queued
    status.last_evaluation_time = old.get("lastEvaluationTime") if same and old.get("lastEvaluationTime") \
        else now_iso()
    return status
