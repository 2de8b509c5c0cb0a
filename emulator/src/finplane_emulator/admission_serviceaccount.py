"""ServiceAccount admission, DefaultTolerationSeconds, the legacy token Secrets and the default ServiceAccount.

Called by `admission_chain.py` (mutating step of a create) and `app.build_app` (the controller).
Mirrors kube-apiserver's ServiceAccount plugin: a Pod gets `spec.serviceAccountName: default` when it
names none, is refused (403) when its ServiceAccount does not exist, and, unless the Pod or its
ServiceAccount sets `automountServiceAccountToken: false`, gets the projected `kube-api-access-XXXXX`
volume (a bound token, `kube-root-ca.crt`, the namespace) mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container. DefaultTolerationSeconds adds the
300 s NoExecute tolerations for `node.kubernetes.io/not-ready` and `unreachable`. A
`kubernetes.io/service-account-token` Secret naming an existing ServiceAccount is filled at once with
`token`, `ca.crt` and `namespace` (kube-controller-manager's token controller does it a moment later on a
cluster). The ServiceAccount controller creates the `default` ServiceAccount in every namespace.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
from typing import Any

from finplane_emulator import meta
from finplane_emulator.core import Core
from finplane_emulator.errors import forbidden
from finplane_emulator.resources import ResourceInfo
from finplane_emulator.store import WatchEvent
from finplane_emulator.tokens import Signer

__all__ = ["default_tolerations", "fill_token_secret", "mutate_pod", "start_default_service_accounts"]

Obj = dict[str, Any]
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
SA_UID = "kubernetes.io/service-account.uid"
CA_PLACEHOLDER = "-----BEGIN CERTIFICATE-----\n(finplane-emulator: no cluster CA)\n-----END CERTIFICATE-----\n"


def _service_account(core: Core, namespace: str, name: str) -> Obj | None:
    info = core.registry.get("", "v1", "serviceaccounts")
    return core.store.get(info, namespace, name) if info else None


def default_tolerations(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = spec.get("tolerations") or []
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(isinstance(t, dict) and t.get("key") == key and t.get("effect") in (None, "", "NoExecute")
                   for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    spec["tolerations"] = tolerations


def mutate_pod(core: Core, pod: Obj) -> None:
    """Default the ServiceAccount and project its token; 403 when the ServiceAccount does not exist."""
    spec = pod.setdefault("spec", {})
    md = pod["metadata"]
    if (md.get("annotations") or {}).get("kubernetes.io/config.mirror"):
        return  # mirror pods are left alone
    name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name
    sa = _service_account(core, md.get("namespace", ""), name)
    if sa is None:
        raise forbidden(plural="pods", group="", name=md.get("name", ""),
                        why=f'error looking up service account {md.get("namespace", "")}/{name}: '
                            f'serviceaccount "{name}" not found')
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa.get("automountServiceAccountToken", True)
    if automount is False:
        return
    volumes = spec.setdefault("volumes", [])
    containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or []]
    if any(m.get("mountPath") == MOUNT for c in containers for m in c.get("volumeMounts") or []):
        return
    volume = f"kube-api-access-{meta.generate_name('')}"
    volumes.append({"name": volume, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
    for c in containers:
        c.setdefault("volumeMounts", []).append({"name": volume, "readOnly": True, "mountPath": MOUNT})


def fill_token_secret(core: Core, signer: Signer, secret: Obj) -> None:
    """Give a legacy ServiceAccount token Secret its token (when its ServiceAccount exists)."""
    if secret.get("type") != TOKEN_TYPE:
        return
    md = secret["metadata"]
    annotations = md.setdefault("annotations", {})
    sa = _service_account(core, md.get("namespace", ""), str(annotations.get(SA_NAME, "")))
    if sa is None:
        return
    uid = sa["metadata"]["uid"]
    annotations[SA_UID] = uid
    token = signer.issue_legacy(namespace=md["namespace"], name=sa["metadata"]["name"], uid=uid, secret_name=md["name"])
    data = secret.setdefault("data", {})
    data["token"] = base64.b64encode(token.encode()).decode()
    data["ca.crt"] = base64.b64encode(CA_PLACEHOLDER.encode()).decode()
    data["namespace"] = base64.b64encode(md["namespace"].encode()).decode()


def start_default_service_accounts(core: Core) -> None:
    """The ServiceAccount controller: a `default` ServiceAccount in every namespace, now and later."""
    from finplane_emulator.writes import create  # writes imports core only; this module is imported by it

    sa_info = core.registry.get("", "v1", "serviceaccounts")
    ns_info = core.namespaces_info
    assert sa_info is not None and ns_info is not None

    def ensure(namespace: str) -> None:
        ns = core.namespace(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp") or _service_account(core, namespace, "default"):
            return
        create(core, sa_info, namespace, {"apiVersion": "v1", "kind": "ServiceAccount",
                                          "metadata": {"name": "default", "namespace": namespace}},
               manager="kube-controller-manager")

    for ns in list(core.store.resource(ns_info.key).iter()):
        ensure(ns["metadata"]["name"])

    def on_event(info: ResourceInfo, event: WatchEvent) -> None:
        if info.key == ns_info.key and event.type == "ADDED":
            name = event.obj["metadata"]["name"]
        elif info.key == sa_info.key and event.type == "DELETED" and event.obj["metadata"]["name"] == "default":
            name = event.obj["metadata"].get("namespace", "")
        else:
            return
        try:
            asyncio.get_running_loop().call_soon(ensure, name, context=contextvars.Context())
        except RuntimeError:
            ensure(name)

    core.store.listeners.append(on_event)
