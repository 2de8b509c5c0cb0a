"""kopf 1.45 runs unchanged against the embedded API server: it discovers the CRD, watches, adds its finalizer,
patches status, and releases the finalizer on deletion (KopfRunner, in-process)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import kopf.testing
from kopf._core.intents import registries

OPERATOR = textwrap.dedent('''
    import kopf

    @kopf.on.startup()
    def configure(settings, **_):
        settings.persistence.finalizer = "example.com/kopf-finalizer"
        settings.watching.server_timeout = 10

    @kopf.on.login()
    def login(**kwargs):
        # In-process: the kubernetes client read KUBECONFIG at import time, before the test set it.
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.create("example.com", "v1", "widgets")
    def created(spec, patch, **_):
        patch.status["observedSize"] = spec["size"]

    @kopf.on.delete("example.com", "v1", "widgets")
    def deleted(**_):
        pass
''')


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_kopf_operator_handles_create_and_delete_with_its_finalizer(server, api, widgets, ns, tmp_path: Path,
                                                                      monkeypatch):
    """kopf relies on watch-from-list-version, merge patches of metadata and /status, finalizers and
    deletionTimestamp behaving like the kube-apiserver's."""
    monkeypatch.setenv("KUBECONFIG", str(server.kubeconfig))
    script = tmp_path / "op.py"
    script.write_text(OPERATOR)
    path = widgets.format(ns=ns)
    # Its own registry: another test in this worker may have imported an operator whose handlers sit in
    # kopf's default registry (the script's decorators register into whichever registry is the default).
    registry = kopf.OperatorRegistry()
    monkeypatch.setattr(registries, "_default_registry", registry)
    with kopf.testing.KopfRunner(["run", "--standalone", "--namespace", ns, str(script)], timeout=60,
                                 registry=registry) as runner:
        api.post(path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "k"},
                        "spec": {"size": 5}})
        assert _wait(lambda: (api.get(f"{path}/k").json().get("status") or {}).get("observedSize") == 5)
        assert "example.com/kopf-finalizer" in api.get(f"{path}/k").json()["metadata"]["finalizers"]
        api.delete(f"{path}/k")
        assert _wait(lambda: api.get(f"{path}/k").status_code == 404)
    assert runner.exception is None, runner.output
    assert "Handler 'created' succeeded" in runner.output
