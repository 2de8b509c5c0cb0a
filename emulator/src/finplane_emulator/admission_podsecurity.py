"""Pod Security admission from namespace labels (`pod-security.kubernetes.io/enforce|warn|audit`).

Called by `admission_chain.py` on creates and updates. Mirrors the PodSecurity plugin: the levels
`privileged`, `baseline` and `restricted` (the `-version` labels are read as `latest`); a Pod that
violates its namespace's `enforce` level is refused with 403 `violates PodSecurity "LEVEL:latest": ...`;
`warn` gives a `would violate PodSecurity` warning; `audit` is logged. For workloads (Deployments,
ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs) the pod template is checked against the enforce
and warn levels and only warned about, never refused, as kube-apiserver does. Checks: host namespaces,
privileged, capabilities, hostPath volumes, host ports, seccomp, procMount, sysctls (baseline); volume
types, allowPrivilegeEscalation, runAsNonRoot, runAsUser=0, seccompProfile, capabilities drop ALL
(restricted). Not checked: AppArmor, SELinux options, Windows fields, exemptions.
"""

from __future__ import annotations

import logging
from typing import Any

from finplane_emulator.core import Core
from finplane_emulator.errors import forbidden
from finplane_emulator.resources import ResourceInfo

__all__ = ["check_pod_spec", "evaluate"]

Obj = dict[str, Any]
LEVELS = ("privileged", "baseline", "restricted")
PREFIX = "pod-security.kubernetes.io/"
log = logging.getLogger("finplane_emulator.admission")
_BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                  "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
_SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                 "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                 "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                 "net.ipv4.tcp_keepalive_probes"}
_RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                       "projected", "secret"}
_TEMPLATES = {("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
              ("batch", "jobs"), ("", "replicationcontrollers"), ("", "podtemplates")}


def _containers(spec: Obj) -> list[Obj]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def _names(items: list[str], singular: str = "container") -> str:
    quoted = ", ".join(f'"{n}"' for n in items)
    return f"{singular}s {quoted}" if len(items) > 1 else f"{singular} {quoted}"


def check_pod_spec(spec: Obj, level: str) -> list[str]:
    """The violations of `level` by a pod spec, worded like the real checks."""
    if level not in ("baseline", "restricted"):
        return []
    out: list[str] = []
    psc = spec.get("securityContext") or {}
    containers = _containers(spec)

    def sc(c: Obj) -> Obj:
        return c.get("securityContext") or {}

    host = [f"{k}=true" for k in ("hostNetwork", "hostPID", "hostIPC") if spec.get(k)]
    if host:
        out.append(f"host namespaces ({', '.join(host)})")
    priv = [c.get("name", "") for c in containers if sc(c).get("privileged")]
    if priv:
        out.append(f"privileged ({_names(priv)} must not set securityContext.privileged=true)")
    for c in containers:
        added = [a for a in (sc(c).get("capabilities") or {}).get("add") or [] if a not in _BASELINE_CAPS]
        if added:
            out.append(f'non-default capabilities (container "{c.get("name", "")}" must not include '
                       f'{", ".join(chr(34) + a + chr(34) for a in added)} in securityContext.capabilities.add)')
    host_path = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    if host_path:
        out.append(f"hostPath volumes ({_names(host_path, 'volume')})")
    ports = [f'container "{c.get("name", "")}" uses hostPort {p["hostPort"]}' for c in containers
             for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
    if ports:
        out.append(f"hostPort ({', '.join(ports)})")
    unconfined = (psc.get("seccompProfile") or {}).get("type") == "Unconfined" or any(
        (sc(c).get("seccompProfile") or {}).get("type") == "Unconfined" for c in containers)
    if unconfined:
        out.append('seccompProfile (pod or containers must not set securityContext.seccompProfile.type to "Unconfined")')
    proc = [c.get("name", "") for c in containers if sc(c).get("procMount") not in (None, "Default")]
    if proc:
        out.append(f'procMount ({_names(proc)} must not set securityContext.procMount to "Unmasked")')
    sysctls = [s.get("name", "") for s in psc.get("sysctls") or [] if s.get("name") not in _SAFE_SYSCTLS]
    if sysctls:
        out.append(f"forbidden sysctls ({', '.join(sysctls)})")
    if level == "baseline":
        return out
    for v in spec.get("volumes") or []:
        if isinstance(v, dict):
            kinds = [k for k in v if k != "name" and k not in _RESTRICTED_VOLUMES]
            if kinds:
                out.append(f'restricted volume types (volume "{v.get("name", "")}" uses restricted volume type '
                           f'"{kinds[0]}")')
    ape = [c.get("name", "") for c in containers if sc(c).get("allowPrivilegeEscalation") is not False]
    if ape:
        out.append(f"allowPrivilegeEscalation != false ({_names(ape)} must set "
                   "securityContext.allowPrivilegeEscalation=false)")
    caps = [c.get("name", "") for c in containers
            if "ALL" not in ((sc(c).get("capabilities") or {}).get("drop") or [])]
    if caps:
        out.append(f'unrestricted capabilities ({_names(caps)} must set securityContext.capabilities.drop=["ALL"])')
    if psc.get("runAsNonRoot") is not True:
        bad = [c.get("name", "") for c in containers if sc(c).get("runAsNonRoot") is not True]
        if bad:
            out.append(f"runAsNonRoot != true (pod or {_names(bad)} must set securityContext.runAsNonRoot=true)")
    root = [c.get("name", "") for c in containers if sc(c).get("runAsUser") == 0]
    if psc.get("runAsUser") == 0 or root:
        out.append(f"runAsUser=0 (pod or {_names(root or ['*'])} must not set runAsUser=0)")
    if (psc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        bad = [c.get("name", "") for c in containers
               if (sc(c).get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost")]
        if bad:
            out.append(f'seccompProfile (pod or {_names(bad)} must set securityContext.seccompProfile.type to '
                       '"RuntimeDefault" or "Localhost")')
    return out


def _pod_spec(info: ResourceInfo, obj: Obj) -> Obj | None:
    if info.group == "" and info.plural == "pods":
        return obj.get("spec") or {}
    if (info.group, info.plural) == ("batch", "cronjobs"):
        return (((((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template") or {})
                .get("spec") or {})
    if (info.group, info.plural) in _TEMPLATES:
        return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return None


def evaluate(core: Core, *, info: ResourceInfo, obj: Obj, old: Obj | None, operation: str,
             subresource: str) -> list[str]:
    """Warnings for this write; raises 403 for a Pod that violates its namespace's enforce level."""
    if subresource or not info.namespaced:
        return []
    spec = _pod_spec(info, obj)
    if spec is None:
        return []
    if old is not None and spec == _pod_spec(info, old):
        return []  # an update that leaves the pod spec alone is not checked again
    ns = core.namespace(obj["metadata"].get("namespace", "")) or {}
    labels = (ns.get("metadata") or {}).get("labels") or {}
    is_pod = info.plural == "pods"
    if is_pod and operation != "CREATE":
        return []
    warnings: list[str] = []
    name = obj["metadata"].get("name", "")
    for mode in ("enforce", "warn", "audit"):
        level = labels.get(PREFIX + mode, "privileged")
        if level not in LEVELS:
            level = "restricted"  # an unknown level is evaluated as the most restrictive one
        problems = check_pod_spec(spec, level)
        if not problems:
            continue
        text = f'PodSecurity "{level}:latest": {", ".join(problems)}'
        if mode == "enforce" and is_pod:
            raise forbidden(plural="pods", group="", name=name, why=f"violates {text}")
        if mode == "audit":
            log.warning("audit: %s %s/%s would violate %s", info.kind, obj["metadata"].get("namespace"), name, text)
        elif f"would violate {text}" not in warnings:
            warnings.append(f"would violate {text}")
    return warnings
