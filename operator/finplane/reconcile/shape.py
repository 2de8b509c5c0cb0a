"""The one shape every kind's reconciler has: what it declares, what a pass receives, what it returns.

Modelled on controller-runtime: `Reconcile(ctx, req) -> Result{RequeueAfter}`, `TerminalError`, and
`Watches(...)` declared by the controller that is woken. A kind is one `KindReconciler` subclass
declaring its `kind`, its `spec_model`, the `watches` that enqueue *it* (so "what wakes X" is one hop,
in X's own module), and `reconcile(p) -> Outcome`. Everything else is done once by
`reconcile.controller.Controller`: fetching the body from the store, skipping deleting objects and
stale passes, parsing (a ValidationError is `InvalidSpec`), turning `Refuse` into Ready=False with no
retry until the spec changes, reporting what the pass applied (metrics, log lines, Drift events), the
status write and the requeue. State a kind keeps between passes lives on its reconciler object.

Imported by every `reconcile/<kind>` module and by `reconcile.controller`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from finplane.models.common import describe_errors
from finplane.reconcile.children import SyncResult, stamp, sync_children
from finplane.status.conditions import Cond
from finplane.status.vocabulary import ConditionType, Reason

if TYPE_CHECKING:
    from finplane.kube.client import Kube
    from finplane.reconcile.runtime import Runtime
    from finplane.settings import Settings

__all__ = ["KindReconciler", "Outcome", "Pass", "Refuse", "Watch"]

Obj = dict[str, Any]
Key = tuple[str, str]
S = TypeVar("S")  # the parsed spec: the kind's model (a lenient wrapper for Channel)


@dataclass(frozen=True)
class Watch:
    """Events of `kind` wake the objects `keys(event_type, new, old)` returns (of the declaring kind).

    `stored=False` for kinds whose bodies the runtime does not keep (Secrets, ServiceAccounts): the
    watch still sees every event."""

    kind: str
    keys: Callable[[str, Obj, Obj | None], Iterable[Key]]
    stored: bool = True


@dataclass
class Outcome:
    """What a pass found: the conditions it owns, the kind's status model, when to look again."""

    conditions: list[Cond]
    status: BaseModel | None = None  # serialised by alias; only the fields set explicitly are written
    requeue_after: float | None = None
    keep_types: tuple[str, ...] = (ConditionType.COMPLIANT,)  # conditions owned by another controller
    body: Obj | None = None  # a fresher read of the object than the store's, to compare the status with

    @property
    def writes_status(self) -> bool:
        """An outcome without conditions or status ("not yet, look again soon") leaves the status alone."""
        return bool(self.conditions) or self.status is not None


class Refuse(Exception):  # noqa: N818 - named for what the reconciler does, like controller-runtime's TerminalError
    """A spec (or a state of other objects) only a person can fix: Ready=False with `reason`, nothing applied.

    `terminal` (the default): nothing but a spec change can help, so the object is not reconciled again
    until its generation changes. `terminal=False` for refusals that depend on other objects (a name
    conflict, a dependency cycle): the watches that wake the object re-evaluate it.
    """

    def __init__(self, reason: str, message: str, *, terminal: bool = True, status: BaseModel | None = None,
                 requeue_after: float | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.terminal = terminal
        self.status = status
        self.requeue_after = requeue_after  # a refused sandbox still expires on time


@dataclass
class Pass(Generic[S]):
    """One reconcile pass of one object: its key, body and parsed spec, and the way to apply children."""

    key: Key
    body: Obj
    spec: S
    rt: Runtime
    reports: list[SyncResult] = field(default_factory=list)

    @property
    def kube(self) -> Kube:
        return self.rt.kube

    @property
    def settings(self) -> Settings:
        return self.rt.settings

    @property
    def name(self) -> str:
        return self.key[1]

    @property
    def namespace(self) -> str:
        return self.key[0]

    @property
    def uid(self) -> str:
        return str(self.body["metadata"]["uid"])

    async def apply(self, desired: list[Obj], *, prune_kinds: tuple[tuple[str, str], ...] = (),
                    prune_namespaces: tuple[str, ...] = (), conflict: str | None = None,
                    refuse: bool = True, cached: bool = True, stamped: bool = False) -> SyncResult:
        """Stamp and apply `desired` in order (reconcile.children); the controller reports what it wrote.

        With `refuse`, a name conflict raises `Refuse("NameConflict", conflict)` (re-evaluated when woken)
        and a child the API server refuses raises a terminal `Refuse` with the server's reason; without
        it the caller inspects the result (a channel's routes fail one by one). `stamped`: the children
        already carry their owner and hash (a channel's remembered last good rendering).
        """
        children = desired if stamped else [stamp(c, self.body) for c in desired]
        result = await sync_children(self.kube, children, owner_uid=self.uid,
                                     seen_before=False, prune_kinds=prune_kinds, prune_namespaces=prune_namespaces,
                                     cache=self.rt.child_cache if cached else None)
        self.reports.append(result)
        if refuse and result.conflicts:
            raise Refuse(Reason.NAME_CONFLICT, f"{', '.join(result.conflicts)} already exists and is not managed by "
                         f"this {self.body['kind']}; {conflict or 'rename it or remove that object'}", terminal=False)
        if refuse and result.refused is not None:
            raise Refuse(result.refused.reason, f"the API server refused {result.refused.child}: "
                         f"{result.refused.message}; nothing after it was applied")
        return result


class KindReconciler(Generic[S]):
    """Base of the five reconcilers; subclasses set `kind` and `spec_model` and implement `reconcile`."""

    kind: ClassVar[str]
    spec_model: ClassVar[type[BaseModel]]

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def watches(self) -> list[Watch]:
        """The events of other kinds (or of this one) that wake objects of this kind."""
        return []

    def parse(self, body: Obj) -> S:
        """The spec as the kind's model; a ValidationError becomes InvalidSpec (override for lenient kinds)."""
        return self.spec_model.model_validate(body.get("spec") or {})  # type: ignore[return-value]

    async def reconcile(self, p: Pass[S]) -> Outcome:
        raise NotImplementedError

    def refused(self, body: Obj, refusal: Refuse) -> Outcome:
        """The outcome of a refusal: Ready=False with its reason (kinds add their own conditions)."""
        return Outcome([Cond(ConditionType.READY, "False", refusal.reason, refusal.message)], status=refusal.status,
                       requeue_after=refusal.requeue_after)


def invalid_spec(exc: ValidationError) -> Refuse:
    return Refuse(Reason.INVALID_SPEC, describe_errors(exc))
