"""Configure kopf once and run the operator (`finplane operator`).

kopf provides peering, the liveness endpoint, start-up and clean-up, the login (through
`finplane.kube.kubeconfig`) and the event loop (uvloop where installed). It watches nothing itself: every
watch is one of Finplane's own informers (`finplane.kube.informer`), which cost a fraction of kopf's
per-object machinery per event: Finplane's kinds (`reconcile.kind_watch`), the children it manages
(`reconcile.child_watch`), Namespaces, ServiceAccounts and Secrets (`handlers.registry_watch`). Each event
goes to `Runtime.observe`, which updates a store and enqueues a key for the kind's workers. No kopf
create/update/timer handlers are used, so kopf writes no progress or diff-base annotations and no
`status.kopf`: an idle cluster gets zero writes from Finplane.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf
from prometheus_client import start_http_server

from finplane import GROUP
from finplane.handlers import kopf_tuning, peering_state, registrations, watch_health
from finplane.handlers.registry_watch import namespace_watches
from finplane.kube import kubeconfig
from finplane.kube.client import Kube
from finplane.kube.evidence_key import configured_secret, shared_signer
from finplane.reconcile.child_watch import child_watches
from finplane.reconcile.kind_watch import kind_watches
from finplane.reconcile.runtime import Runtime
from finplane.reconcile.watches import Watches
from finplane.settings import get_settings

__all__ = ["run"]

log = logging.getLogger("finplane.operator")
#: The namespaces `run` restricts the operator to (empty: cluster-wide); the child informers follow them.
_scope: dict[str, tuple[str, ...]] = {"namespaces": ()}
#: How often finplane_objects is refreshed (O(objects) each time, so not on every event).
GAUGE_INTERVAL_SECONDS = 10.0


@kopf.on.login()
async def _login(**_: Any) -> kopf.ConnectionInfo:
    """kopf's own requests (peering, the registry watches) go where Finplane's go, with the same credentials.

    kopf calls this again after a 401, which re-reads a rotated token file or runs the exec plugin again.
    """
    return kopf_connection(await kubeconfig.load())


def kopf_connection(conn: kubeconfig.Connection) -> kopf.ConnectionInfo:
    """The same connection, as kopf describes one."""
    token = conn.credential.token_now()
    if isinstance(conn.credential, kubeconfig.BasicAuth):
        basic: dict[str, Any] = {"username": conn.credential.username, "password": conn.credential.password}
    else:
        basic = {"scheme": "Bearer", "token": token} if token else {}
    cert = conn.client_cert or (conn.credential.certificate
                                if isinstance(conn.credential, kubeconfig.ExecCredential) else None)
    files = conn.client_cert_files
    return kopf.ConnectionInfo(
        server=conn.server, ca_path=conn.ca_file, ca_data=conn.ca_data, insecure=conn.insecure or None,
        certificate_path=files[0] if files else None, private_key_path=files[1] if files else None,
        certificate_data=cert[0] if cert and not files else None, private_key_data=cert[1] if cert and not files else None,
        default_namespace=conn.namespace, proxy_url=conn.proxy, expiration=conn.credential.expires(), **basic)


@kopf.on.startup()
async def _startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    conf = get_settings()
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf_tuning.LeanProgressStorage(prefix=GROUP)  # clears without a copy
    settings.persistence.diffbase_storage = kopf_tuning.LeanDiffBaseStorage(  # same essence, less copying
        prefix=GROUP, key="last-handled-configuration")
    settings.posting.enabled = False  # Finplane posts its own events, with specific reasons, only on changes
    settings.peering.mandatory = False
    settings.peering.name = os.environ.get("FINPLANE_PEERING_NAME", "finplane")
    settings.peering.lifetime = conf.peering_lifetime_seconds  # how long a SIGKILLed active replica blocks the others
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    # A stream that stays open but delivers nothing (not even the periodic bookmarks) is dead: reconnect.
    settings.watching.inactivity_timeout = conf.watch_inactivity_seconds
    settings.networking.error_backoffs = [1, 2, 5, 10, 20, 30]
    # kopf runs one worker task per object with pending watch events; an idle one lingers for
    # idle_timeout (5 s by default) before it exits. With a cap of 64 workers, creating hundreds of
    # capabilities (each with 6 children, every one a watched object) filled the cap with lingering
    # workers and stalled the watch for ~5 s at a time: bench/convergence.py converged in bursts. Our
    # handlers only update a store and enqueue a key (the reconcilers have their own bounded queue),
    # so workers are cheap and short-lived: a large cap for bursts and a short linger bound them.
    settings.queueing.worker_limit = 2000
    settings.queueing.idle_timeout = 0.5
    kube = await Kube.from_config(field_manager=conf.field_manager)
    rt = Runtime(kube=kube, settings=conf, workers=int(os.environ.get("FINPLANE_WORKERS", "8")),
                 is_paused=peering_state.paused)
    if (key_secret := configured_secret()) is not None:  # before the reconcilers open the evidence record
        rt.recorder.signer = await shared_signer(kube, namespace=key_secret[0], name=key_secret[1])
    registrations.register_all(rt)
    rt.start()
    memo["rt"] = rt
    scope, beat = _scope["namespaces"], watch_health.heartbeat.beat
    silent = conf.watch_inactivity_seconds
    options = {"namespaces": scope, "on_delivery": beat, "inactivity_timeout": silent}
    memo["kinds"] = kinds = kind_watches(rt, kube, **options)
    memo["children"] = children = child_watches(rt, kube, **options)
    memo["cluster"] = cluster = namespace_watches(rt, namespaces=scope, on_delivery=beat, inactivity_timeout=silent)
    peering_state.on_resume(rt.replay)
    kinds.start()
    children.start()
    cluster.start()
    memo["resync"] = asyncio.create_task(_resync_loop(rt, conf.drift_check_interval_seconds))
    memo["gauges"] = asyncio.create_task(_gauge_loop(rt, GAUGE_INTERVAL_SECONDS))
    log.info("Finplane operator started (field manager %s)", conf.field_manager)


async def _resync_loop(rt: Runtime, interval: float) -> None:
    """The drift timer: every `interval` seconds, compare every object's children with their rendering."""
    while True:
        await asyncio.sleep(interval)
        rt.resync()


async def _gauge_loop(rt: Runtime, interval: float) -> None:
    """finplane_objects by kind and Ready, from start-up on (not only after the first drift tick)."""
    while True:
        for kind in rt.controllers:
            rt.count_ready(kind)
        await asyncio.sleep(interval)


@kopf.on.cleanup()
async def _cleanup(memo: kopf.Memo, **_: Any) -> None:
    rt: Runtime | None = memo.get("rt")
    for name in ("resync", "gauges"):
        task = memo.get(name)
        if task:
            task.cancel()
    for name in ("kinds", "children", "cluster"):
        watches: Watches | None = memo.get(name)
        if watches:
            await watches.stop()
    if rt:
        await rt.stop()
        await rt.kube.close()


def _peering_priority() -> int:
    """A priority unique per replica: FINPLANE_PEERING_PRIORITY, else derived from the pod IP or host+pid."""
    import hashlib
    import ipaddress
    import socket

    if explicit := os.environ.get("FINPLANE_PEERING_PRIORITY"):
        return int(explicit)
    if ip := os.environ.get("FINPLANE_POD_IP"):
        return int(ipaddress.ip_address(ip)) % 2**31
    seed = f"{socket.gethostname()}:{os.getpid()}".encode()
    return int.from_bytes(hashlib.sha256(seed).digest()[:4], "big") % 2**31


def run(*, namespaces: list[str], liveness_port: int, metrics_port: int, peering: str | None, standalone: bool) -> None:
    logging.basicConfig(level=os.environ.get("FINPLANE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # A failing liveness probe (watch_health) makes kopf's endpoint raise; kopf logs the reason once at
    # ERROR, and aiohttp would add a full traceback for every probe request on top.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    # kopf logs "Handler succeeded" for every watch event at INFO: noise that hides Finplane's own lines.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    conf = get_settings()  # fail fast with a clear message on a bad FINPLANE_* value
    _scope["namespaces"] = tuple(namespaces)
    watch_health.install()
    peering_state.install()
    watch_health.register_probe(threshold_seconds=conf.watch_liveness_seconds)
    if metrics_port:
        start_http_server(metrics_port, addr=os.environ.get("FINPLANE_METRICS_ADDR", "0.0.0.0"))
    if peering:
        os.environ["FINPLANE_PEERING_NAME"] = peering
    # kopf pauses every peer when two share the highest priority (a freeze): each replica needs its own.
    options: dict[str, Any] = {
        "priority": _peering_priority(),
        "clusterwide": not namespaces,
        "namespaces": namespaces or (),  # kopf iterates it: None crashes its namespace observer
        "standalone": standalone or not peering,
        "peering_name": peering,
        "liveness_endpoint": f"http://0.0.0.0:{liveness_port}/healthz" if liveness_port else None,
    }
    # uvloop (a pinned runtime dependency) where installed: its I/O costs a fraction of asyncio's, and the
    # operator's CPU is mostly HTTP requests and watch streams (issue 19). kopf picks it only in its own CLI.
    try:
        import uvloop
    except ImportError:
        kopf.run(**options)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        kopf.run(loop=runner.get_loop(), **options)
