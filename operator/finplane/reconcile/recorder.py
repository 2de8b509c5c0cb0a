"""The operator's one way into its evidence log: what happened, to which object, and who caused it.

Held by the runtime (`Runtime.recorder`), one per operator process, around the process's one
`EvidenceLog` (the compliance reconciler appends its results through `recorder.log` too). Called with
one line each by: the controller's apply report (drift corrections, for every kind), the runtime's
watch intake (changes to Finplane objects made outside the platform API), the sandbox reconciler
(provisioning, expiry warning, extension, teardown, partner credential issuance and rotation) and the
registry reconciler (one pull-ledger entry per namespace whose pull Secret was written).

Who caused it: the `managedFields` entry that last wrote the object's spec (for a drift correction,
the live child's newest entry of another manager before it was reverted). The API server records no
user there; the user is named when the object carries the platform API's `finplane.io/created-by`.
Credentials appear by fingerprint (SHA-256), never by value. Entries that must appear once (a sandbox
provisioned, a credential issued) carry a `mark`, replayed from the log at start, so a restart or a
repeated pass records nothing twice. A failed append (a corrupt log, a disk error) never fails the
caller's pass: it is logged and counted in `dropped`, and every CompliancePolicy shows the corrupt log
as `Ready=False` / `EvidenceCorrupt`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from finplane import FIELD_MANAGER
from finplane.policy.evidence import EvidenceCorrupt, EvidenceLog, open_chain
from finplane.policy.evidence_chain import Entry
from finplane.policy.evidence_keys import Signer

__all__ = ["API_MANAGERS", "EvidenceRecorder", "spec_writer", "subject_of"]

log = logging.getLogger("finplane.evidence")
Obj = dict[str, Any]
#: The field managers of the platform API: it writes through `Kube.from_config()`'s default manager.
API_MANAGERS = frozenset({FIELD_MANAGER})
#: Entries recorded within this many seconds share one fsync (`EvidenceRecorder._flush_soon`).
FLUSH_SECONDS = 0.05
CREATED_BY = "finplane.io/created-by"


def subject_of(body: Obj) -> Obj:
    meta = body.get("metadata") or {}
    return {"kind": body.get("kind"), "namespace": meta.get("namespace") or None, "name": meta.get("name"),
            "uid": meta.get("uid")}


def _newest(entries: list[Obj]) -> Obj | None:
    """The entry written last (times have second precision: of equal times, the later in the list)."""
    if not entries:
        return None
    return max(enumerate(entries), key=lambda im: (str(im[1].get("time") or ""), im[0]))[1]


def spec_writer(body: Obj) -> Obj:
    """Who last wrote the object's spec: the newest managedFields entry touching `f:spec` (not /status)."""
    fields = (body.get("metadata") or {}).get("managedFields") or []
    spec = [m for m in fields if m.get("subresource") != "status" and "f:spec" in (m.get("fieldsV1") or {})]
    return _writer(body, _newest(spec) or _newest([m for m in fields if m.get("subresource") != "status"]))


def _writer(body: Obj, entry: Obj | None) -> Obj:
    created_by = ((body.get("metadata") or {}).get("annotations") or {}).get(CREATED_BY)
    out: Obj = {"manager": None, "operation": None, "time": None, "user": None}
    if entry is not None:
        out.update(manager=entry.get("manager"), operation=entry.get("operation"), time=entry.get("time"))
    if created_by and out["manager"] in API_MANAGERS:
        out["user"] = created_by  # the platform API annotates the caller who created the object
    return out


def fingerprint(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


class EvidenceRecorder:
    """Appends events to the process's one evidence log; never raises into a reconcile pass."""

    def __init__(self, path: Path, *, own_manager: str = FIELD_MANAGER) -> None:
        self.path = path
        self.own_manager = own_manager
        self.dropped = 0  # events that could not be recorded (the log is corrupt or unwritable)
        self.signer: Signer | None = None  # the shared Secret's key (set at start-up), else the key file's
        self._log: EvidenceLog | None = None
        self._flush_handle: asyncio.TimerHandle | None = None

    @property
    def log(self) -> EvidenceLog:
        """This process's chain of the record in `path`'s folder, opened on first use (opening loads or creates
        the signing key): its own chain with $FINPLANE_EVIDENCE_WRITER (the pod name), else the shared file."""
        if self._log is None:
            self._log = open_chain(self.path.parent, signer=self.signer)
        return self._log

    def record(self, event: Entry, *, mark: str | None = None, value: str = "") -> Entry | None:
        """Append `event` (once per `mark`/`value` when given); None when it was a repeat or was dropped."""
        if mark is not None:
            if self.log.marks.get(mark) == value:
                return None
            event = {**event, "mark": mark, "markValue": value}
        try:
            entry = self.log.append(event, durable=False)
        except (EvidenceCorrupt, OSError) as exc:
            self.dropped += 1
            log.warning("Could not record %s evidence (%d dropped so far): %s", event.get("type"), self.dropped, exc)
            return None
        self._flush_soon()
        return entry

    def _flush_soon(self) -> None:
        """Group commit: one fsync, off the event loop, for every entry recorded within FLUSH_SECONDS.

        An fsync per entry blocked the operator's event loop for ~7 ms each: a tenth of its CPU time while
        capabilities were created outside the API (issue 19). Outside a running loop (CLI, tests) it syncs now.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._flush_handle is None:
            self._flush_handle = loop.call_later(FLUSH_SECONDS, self._flush_in_thread, loop)

    def _flush_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_handle = None
        if self._log is not None and self._log.unsynced:
            self._log.unsynced = 0  # on the loop's thread; what is appended after this schedules another flush
            loop.run_in_executor(None, self._sync_quietly, self._log)

    @staticmethod
    def _sync_quietly(evidence: EvidenceLog) -> None:
        try:
            evidence.sync_file()
        except OSError as exc:
            log.warning("Could not sync the evidence log to disk: %s", exc)

    def flush(self) -> None:
        """Sync what was recorded to disk now (also at shutdown: `Runtime.stop`)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._log is not None:
            try:
                self._log.flush()
            except OSError as exc:
                log.warning("Could not sync the evidence log to disk: %s", exc)

    # -- one line at each call site ----------------------------------------------------------------
    def drift(self, owner: Obj, child: str, fields: list[str], before: Obj | None) -> None:
        """A child changed (or deleted) outside Finplane and reverted by the controller."""
        entries = [m for m in ((before or {}).get("metadata") or {}).get("managedFields") or []
                   if m.get("manager") != self.own_manager]
        writer = _writer(before or {}, _newest(entries))
        self.record({"type": "drift-corrected", "object": subject_of(owner), "child": child,
                     "fields": fields[:20], "writer": writer})

    def observed(self, kind: str, event: str, new: Obj, old: Obj | None) -> None:
        """A Finplane object created or given a new spec by a manager that is not the platform API."""
        meta = new.get("metadata") or {}
        generation = meta.get("generation")
        created = event == "ADDED"
        changed = event == "MODIFIED" and old is not None and \
            generation != (old.get("metadata") or {}).get("generation")
        if not (created or changed):
            return
        writer = spec_writer(new)
        if writer["manager"] is None or writer["manager"] in API_MANAGERS:
            return
        self.record({"type": "changed-outside-api", "object": subject_of(new), "generation": generation,
                     "change": "created" if created else "spec", "writer": writer},
                    mark=f"change/{meta.get('uid')}", value=str(generation))

    def deleted(self, kind: str, body: Obj) -> None:
        """A Finplane object deleted (through the platform API or not): its last spec writer, once per uid.

        A watch event does not name who deleted: the platform API's own deletions also have their `api-change`
        entry (with the user) in the record, so a deletion without one was made outside the platform API, by
        whom the API server's audit log says."""
        meta = body.get("metadata") or {}
        self.record({"type": "deleted", "object": {**subject_of(body), "kind": body.get("kind") or kind},
                     "generation": meta.get("generation"), "lastWriter": spec_writer(body),
                     "deletedBy": None, "message": f"{body.get('kind') or kind} {meta.get('name')} deleted; the "
                     "deleter is named by the platform API's api-change entry when it went through the API, else "
                     "by the API server's audit log"},
                    mark=f"deleted/{meta.get('uid')}", value="deleted")

    def sandbox_provisioned(self, body: Obj, *, namespace: str, expires_at: str) -> None:
        """The first provisioning of a sandbox, and every later change of its expiry (an extension)."""
        mark = f"sandbox/{body['metadata'].get('uid')}"
        before = self.log.marks.get(mark)
        self.record({"type": "sandbox-provisioned" if before is None else "sandbox-extended",
                     "object": subject_of(body), "namespace": namespace, "expiresAt": expires_at,
                     "previousExpiresAt": before, "writer": spec_writer(body)}, mark=mark, value=expires_at)

    def sandbox_expiring(self, body: Obj, *, expires_at: str) -> None:
        self.record({"type": "sandbox-expiry-warning", "object": subject_of(body), "expiresAt": expires_at},
                    mark=f"sandbox-expiring/{body['metadata'].get('uid')}", value=expires_at)

    def sandbox_torn_down(self, body: Obj, *, reason: str, report: Obj) -> None:
        self.record({"type": "sandbox-torn-down", "object": subject_of(body), "reason": reason,
                     "report": json.loads(json.dumps(report, default=str)), "writer": spec_writer(body)},
                    mark=f"teardown/{body['metadata'].get('uid')}", value=reason)

    def credential(self, body: Obj, verb: str, sha256: str, secret: str) -> None:
        """A partner credential issued or rotated (`verb`): its SHA-256 fingerprint, never the value."""
        rotation = (body.get("spec") or {}).get("credentialRotation", 0)
        self.record({"type": f"credential-{verb.lower()}", "object": subject_of(body), "secret": secret,
                     "fingerprint": sha256, "rotation": rotation, "writer": spec_writer(body)},
                    mark=f"credential/{body['metadata'].get('uid')}", value=sha256)

    def pull_secret(self, registry: Obj, secret: Obj, result: Any) -> None:
        """The pull ledger: a registry credential written into a namespace (by fingerprint)."""
        if not getattr(result, "applied", None):
            return
        meta = secret.get("metadata") or {}
        data = json.dumps(secret.get("data") or secret.get("stringData") or {}, sort_keys=True)
        digest = fingerprint(data)
        self.record({"type": "registry-credential-issued", "object": subject_of(registry),
                     "namespace": meta.get("namespace"), "secret": meta.get("name"), "fingerprint": digest},
                    mark=f"pull/{registry['metadata'].get('uid')}/{meta.get('namespace')}", value=digest)
