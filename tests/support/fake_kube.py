"""The one double of Finplane's Kubernetes gateway (`finplane.kube.client.Kube`) for unit tests.

An in-memory API server at Finplane's own seam: objects keyed by (apiVersion, kind, namespace, name)
with uids, integer resourceVersions and generations; server-side apply and merge patches merge the
body into the stored object (no field ownership: the embedded API server's tests cover that);
`patch_status` touches only status; Events are kept apart in `events`. Every call is recorded in
`calls` (verb, apiVersion, kind, name, field manager), so a test can count writes or see who wrote.

Failure modes a test can switch on: `refuse(kind, name, status, reason, message)` makes writes of one
object fail as the API server would (422 Invalid, 400 BadRequest, 403...), and `missing_groups` makes
every request for a group's resources answer the 404 of an API that is not served (CRD not installed).

Used by tests/unit (status writes, sync_children, the reconcilers' refuse / NameConflict / drift /
requeue branches, compliance outputs).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from finplane.kube.errors import Conflict, KubeError, NotFound, from_status

__all__ = ["Call", "FakeKube", "ObjKey", "WRITE_VERBS"]

Obj = dict[str, Any]
ObjKey = tuple[str, str, str, str]  # (apiVersion, kind, namespace or "", name)
WRITE_VERBS = frozenset({"apply", "create", "replace", "patch", "patch_status", "delete"})


class Call(NamedTuple):
    """One recorded request."""

    verb: str  # get, list, apply, create, replace, patch, patch_status, delete
    api_version: str
    kind: str
    name: str
    field_manager: str


def _merge(base: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): maps merge, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(base) if isinstance(base, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


@dataclass
class FakeKube:
    """Records every call; holds objects; answers like the API server for the verbs Finplane uses."""

    field_manager: str = "finplane-operator"
    missing_groups: tuple[str, ...] = ()
    objects: dict[ObjKey, Obj] = field(default_factory=dict)
    events: list[Obj] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    status_log: list[tuple[str, Obj]] = field(default_factory=list)  # (kind, status patch)
    _refusals: dict[tuple[str, str], KubeError] = field(default_factory=dict)
    _rv: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _uids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- test set-up and inspection ------------------------------------------------------------
    def put(self, *objs: Obj) -> None:
        """Store objects as if they already existed (uid and resourceVersion filled in when absent)."""
        for obj in objs:
            self._store(copy.deepcopy(obj))

    def refuse(self, kind: str, name: str, *, status: int = 422, reason: str = "Invalid",
               message: str = "the object is invalid") -> None:
        """Writes of object `kind`/`name` fail with this HTTP status and Status reason from now on."""
        self._refusals[(kind, name)] = from_status(status, json.dumps(_status_body(status, reason, message)))

    def find(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        for (_, k, ns, n), obj in self.objects.items():
            if k == kind and n == name and ns == (namespace or ""):
                return obj
        return None

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for (_, k, _, _), o in sorted(self.objects.items()) if k == kind]

    def writes(self, kind: str | None = None, *, verbs: Iterable[str] = WRITE_VERBS) -> list[Call]:
        """Recorded writes (optionally of one kind); events are not writes of the objects."""
        wanted = set(verbs)
        return [c for c in self.calls if c.verb in wanted and (kind is None or c.kind == kind)]

    def statuses(self, kind: str | None = None) -> list[Obj]:
        """The status patches sent (optionally for one kind), oldest first."""
        return [copy.deepcopy(o) for k, o in self.status_log if kind is None or k == kind]

    def last_conditions(self, kind: str | None = None) -> dict[str, Obj]:
        """The conditions of the last status patch sent (for `kind`), by type."""
        sent = self.statuses(kind)
        return {c["type"]: c for c in (sent[-1].get("conditions") or [])} if sent else {}

    def event_reasons(self) -> list[str]:
        return [str(e.get("reason")) for e in self.events]

    # -- reads -----------------------------------------------------------------------------------
    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        self._touch("get", api_version, kind, name)
        obj = self.objects.get((api_version, kind, namespace or "", name))
        if obj is None:
            raise NotFound(f'{kind} "{name}" not found', status=404, reason="NotFound",
                           body={"details": {"name": name, "kind": kind.lower() + "s"}})
        return copy.deepcopy(obj)

    async def get_or_none(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        try:
            return await self.get(api_version, kind, name, namespace)
        except NotFound:
            return None

    async def list(self, api_version: str, kind: str, namespace: str | None = None, *,
                   label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]:
        self._touch("list", api_version, kind, "")
        wanted = dict(p.split("=", 1) for p in (label_selector or "").split(",") if "=" in p)
        out = []
        for (av, k, ns, _), obj in sorted(self.objects.items()):
            if av != api_version or k != kind or (namespace is not None and ns != namespace):
                continue
            labels = obj.get("metadata", {}).get("labels") or {}
            if all(labels.get(key) == value for key, value in wanted.items()):
                out.append(copy.deepcopy(obj))
        return out

    # -- writes ----------------------------------------------------------------------------------
    async def apply(self, body: Obj, *, force: bool = True, dry_run: bool = False,
                    field_manager: str | None = None) -> Obj:
        meta = body["metadata"]
        self._write("apply", body["apiVersion"], body["kind"], meta["name"], field_manager)
        key = self._key(body)
        current = self.objects.get(key)
        merged = _merge(current or {}, {k: v for k, v in body.items() if k != "status"})
        for top in ("spec", "data", "rules", "roleRef", "subjects", "imagePullSecrets"):  # applied as a whole
            if top in body:
                merged[top] = copy.deepcopy(body[top])
        return copy.deepcopy(self._store(merged, bump_generation=current is not None and
                                         current.get("spec") != merged.get("spec")))

    async def create(self, body: Obj) -> Obj:
        if body.get("kind") == "Event":
            self.events.append(copy.deepcopy(body))
            return body
        meta = body["metadata"]
        self._write("create", body["apiVersion"], body["kind"], meta.get("name", ""), None)
        if self._key(body) in self.objects:
            raise from_status(409, json.dumps(_status_body(409, "AlreadyExists", f'{body["kind"]} "{meta["name"]}" exists')))
        return copy.deepcopy(self._store(copy.deepcopy(body)))

    async def replace(self, body: Obj) -> Obj:
        meta = body["metadata"]
        self._write("replace", body["apiVersion"], body["kind"], meta["name"], None)
        current = self.objects.get(self._key(body))
        if current is None:
            raise NotFound(f'{body["kind"]} "{meta["name"]}" not found', status=404, body={"details": {}})
        if meta.get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
            raise Conflict("the object has been modified", status=409, reason="Conflict")
        new = copy.deepcopy(body)
        new["metadata"] = {**current["metadata"], **new["metadata"]}
        return copy.deepcopy(self._store(new))

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None,
                          *, subresource: str | None = None, field_manager: str | None = None) -> Obj:
        if subresource == "status":
            return await self.patch_status(api_version, kind, name, patch.get("status") or {}, namespace)
        self._write("patch", api_version, kind, name, field_manager)
        key = (api_version, kind, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            raise NotFound(f'{kind} "{name}" not found', status=404, body={"details": {"name": name}})
        want_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if want_rv is not None and want_rv != current["metadata"]["resourceVersion"]:
            raise Conflict("the object has been modified", status=409, reason="Conflict")
        merged = _merge(current, patch)
        return copy.deepcopy(self._store(merged))

    async def patch_status(self, api_version: str, kind: str, name: str, status: Obj,
                           namespace: str | None = None) -> Obj:
        self._write("patch_status", api_version, kind, name, None)
        self.status_log.append((kind, copy.deepcopy(status)))
        key = (api_version, kind, namespace or "", name)
        current = self.objects.get(key)
        if current is None:
            return {}  # the reconcilers' tests often hold the owner only in the runtime's store
        current["status"] = _merge(current.get("status") or {}, status)
        return copy.deepcopy(self._store(current))

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
                     propagation: str = "Background", missing_ok: bool = True) -> None:
        self._write("delete", api_version, kind, name, None)
        if self.objects.pop((api_version, kind, namespace or "", name), None) is None and not missing_ok:
            raise NotFound(f'{kind} "{name}" not found', status=404, body={"details": {"name": name}})

    async def close(self) -> None:
        return None

    # -- internals -------------------------------------------------------------------------------
    def _touch(self, verb: str, api_version: str, kind: str, name: str, manager: str | None = None) -> None:
        self.calls.append(Call(verb, api_version, kind, name, manager or self.field_manager))
        if api_version.split("/")[0] in self.missing_groups and "/" in api_version:
            # What an API server answers for a resource it does not serve: no object name in the details.
            raise NotFound("the server could not find the requested resource", status=404, reason="NotFound",
                           body={"details": {}})

    def _write(self, verb: str, api_version: str, kind: str, name: str, manager: str | None) -> None:
        self._touch(verb, api_version, kind, name, manager)
        refusal = self._refusals.get((kind, name))
        if refusal is not None:
            raise refusal

    @staticmethod
    def _key(body: Obj) -> ObjKey:
        meta = body.get("metadata") or {}
        return (body["apiVersion"], body["kind"], meta.get("namespace") or "", meta.get("name", ""))

    def _store(self, obj: Obj, *, bump_generation: bool = False) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", f"uid-{next(self._uids)}")
        meta["resourceVersion"] = str(next(self._rv))
        meta["generation"] = int(meta.get("generation") or 1) + (1 if bump_generation else 0)
        self.objects[self._key(obj)] = obj
        return obj


def _status_body(code: int, reason: str, message: str) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message, "details": {}}
