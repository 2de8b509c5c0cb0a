"""The kopf internals Finplane relies on are still there, with the shape the wrappers assume.

Covers: the private `process_peering_event` and `watch_objs` keep the keyword-only parameters the
wrappers pass through and read (`conflicts_found`, a toggle with `is_on`); kopf still calls both
through their modules at call time (else a wrapper would silently never run); the public
`AnnotationsDiffBaseStorage.build` that `kopf_tuning` overrides keeps its signature; no module of
Finplane but `handlers.kopf_seams` imports a private kopf module; the wrappers report the peering
verdict and every stream delivery, wrap once, and fail loudly when kopf drops the function.
A kopf upgrade that changes any of this fails here rather than in production.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aiotoggles
from kopf._cogs.clients import watching
from kopf._core.engines import peering
from kopf._core.reactor import orchestration

from finplane.handlers import kopf_seams, peering_state, watch_health

PKG = Path(__file__).resolve().parents[2] / "operator" / "finplane"
KW = inspect.Parameter.KEYWORD_ONLY


def _params(fn: Any) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(fn).parameters)


def test_process_peering_event_takes_keywords_only_and_the_conflicts_toggle() -> None:
    params = _params(peering.process_peering_event)
    assert {"raw_event", "namespace", "resource", "identity", "settings", "conflicts_found"} <= params.keys()
    assert all(p.kind is KW for p in params.values())
    assert params["conflicts_found"].default is None
    assert callable(aiotoggles.Toggle.is_on)


def test_kopf_binds_process_peering_event_through_its_module_at_start_up() -> None:
    assert "functools.partial(peering.process_peering_event" in inspect.getsource(orchestration)


def test_watch_objs_is_a_keyword_only_async_generator_called_by_name_for_every_stream() -> None:
    params = _params(watching.watch_objs)
    assert list(params) == ["settings", "resource", "namespace", "since", "operator_pause_waiter"]
    assert all(p.kind is KW for p in params.values())
    assert inspect.isasyncgenfunction(watching.watch_objs)
    assert "stream = watch_objs(" in inspect.getsource(watching.continuous_watch)


def test_the_diff_base_build_that_kopf_tuning_overrides_keeps_its_signature() -> None:
    params = _params(kopf.AnnotationsDiffBaseStorage.build)
    assert list(params) == ["self", "body", "extra_fields"]
    assert params["body"].kind is KW and params["extra_fields"].default is None


def test_only_the_seams_module_imports_private_kopf_modules() -> None:
    offenders = []
    for path in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.startswith("kopf._") for n in names):
                offenders.append(str(path.relative_to(PKG)))
    assert sorted(set(offenders)) == ["handlers/kopf_seams.py"]


async def test_the_peering_wrapper_reports_kopfs_verdict_after_kopf_handled_the_event(
        monkeypatch: pytest.MonkeyPatch) -> None:
    handled: list[dict[str, Any]] = []

    async def kopfs_own(**kwargs: Any) -> None:
        handled.append(kwargs)

    monkeypatch.setattr(peering, "process_peering_event", kopfs_own)
    monkeypatch.setitem(peering_state._state, "paused", False)
    peering_state.install()
    peering_state.install()  # a second install must not wrap twice
    toggle = aiotoggles.Toggle(False)

    await peering.process_peering_event(raw_event={}, conflicts_found=toggle)
    assert not peering_state.paused()
    await toggle.turn_to(True)
    await peering.process_peering_event(raw_event={}, conflicts_found=toggle)
    assert peering_state.paused()
    await toggle.turn_to(False)
    await peering.process_peering_event(raw_event={}, conflicts_found=toggle)
    assert not peering_state.paused()
    assert len(handled) == 3 and handled[0]["conflicts_found"] is toggle


async def test_the_watch_wrapper_beats_once_per_delivered_event_and_passes_them_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def kopfs_own(**kwargs: Any) -> Any:
        for raw in ({"type": "ADDED"}, {"type": "BOOKMARK"}):
            yield raw

    monkeypatch.setattr(watching, "watch_objs", kopfs_own)
    beat = watch_health.WatchHeartbeat()
    watch_health.install(beat)
    watch_health.install(watch_health.WatchHeartbeat())  # already wrapped: the first heartbeat stays

    got = [raw async for raw in watching.watch_objs(settings=None)]
    assert got == [{"type": "ADDED"}, {"type": "BOOKMARK"}]
    assert beat.received == 2 and beat.last is not None


@pytest.mark.parametrize(("module", "name", "wrap"), [
    (peering, "process_peering_event", lambda: kopf_seams.wrap_peering_events(lambda paused: None)),
    (watching, "watch_objs", lambda: kopf_seams.wrap_watch_streams(lambda: None)),
])
def test_a_seam_kopf_dropped_fails_at_start_up_naming_it(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
                                                         wrap: Any) -> None:
    monkeypatch.delattr(module, name)
    with pytest.raises(RuntimeError, match=f"{name} is gone"):
        wrap()

