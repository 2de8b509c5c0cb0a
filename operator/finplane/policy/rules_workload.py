"""Rules about workloads: images, pod security, resources, replicas and owner labels.

Pure: `rule(subject, params, ctx) -> list[Finding]`; an empty list means the rule does not apply
to the subject's kind. Called by `policy.engine` through the catalog in `policy.library`. Each rule
checks its own parameters and answers `error` when they are wrong (the policy's status shows it).
"""

from __future__ import annotations

from typing import Any, Final

from finplane.policy.subject import Context, Finding, Obj, Subject, pod_specs
from finplane.render.image import ImageRef, parse_image

__all__ = ["allowed_registries", "image_digest_pinned", "minimum_replicas", "no_latest_tag",
           "no_privilege_escalation", "owner_labels_present", "read_only_root_filesystem",
           "resource_limits_set", "run_as_non_root", "subject_images"]

PASS: Final = "pass"
FAIL: Final = "fail"


def _verdict(problems: list[str], ok: str) -> list[Finding]:
    return [Finding(FAIL, "; ".join(problems[:10]))] if problems else [Finding(PASS, ok)]


def _containers(spec: Obj) -> list[Obj]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def subject_images(subject: Subject) -> list[str]:
    """Images a subject runs (capabilities: spec.image; Deployments and Pods: every container)."""
    if subject.kind == "BusinessCapability":
        return [str(subject.spec.get("image", ""))]
    return [str(c.get("image", "")) for _, ps in pod_specs(subject) for c in _containers(ps)]


def _str_list(params: dict[str, Any], key: str, default: list[str] | None = None) -> list[str] | str:
    value = params.get(key, default)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        return f"parameter {key} must be a non-empty list of strings"
    return value


def allowed_registries(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Images come only from `registries` (entries `host` or `host/repository-prefix`)."""
    registries = _str_list(params, "registries")
    if isinstance(registries, str):
        return [Finding("error", registries)]
    if subject.kind == "TenantSandbox":
        images = [p for p in subject.spec.get("allowedImages") or []]
    elif subject.kind in ("BusinessCapability", "Deployment", "Pod"):
        images = subject_images(subject)
    else:
        return []
    bad = [img for img in images if not _from_allowed(img, registries)]
    return _verdict([f"image {img} is not from an allowed registry ({', '.join(registries)})" for img in bad],
                    f"every image comes from {', '.join(registries)}")


def _from_allowed(image: str, registries: list[str]) -> bool:
    for entry in registries:
        host, _, prefix = entry.rstrip("/").partition("/")
        if image.startswith("*"):
            return False  # a pattern that may match any registry
        try:
            ref = parse_image(image.replace("*", "x"))
        except ValueError:
            return False
        if ref.registry == host and (not prefix or ref.repository == prefix or ref.repository.startswith(prefix + "/")):
            return True
    return False


def _refs(subject: Subject) -> list[tuple[str, ImageRef | None]]:
    out: list[tuple[str, ImageRef | None]] = []
    for img in subject_images(subject):
        try:
            out.append((img, parse_image(img)))
        except ValueError:
            out.append((img, None))
    return out


def image_digest_pinned(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Every image is pinned by digest (@sha256:...), so what runs is exactly what was approved."""
    if subject.kind not in ("BusinessCapability", "Deployment", "Pod"):
        return []
    bad = [img for img, ref in _refs(subject) if ref is None or not ref.pinned]
    return _verdict([f"image {img} is not pinned by digest (@sha256:...)" for img in bad],
                    "every image is pinned by digest")


def no_latest_tag(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """No image uses the `latest` tag or no tag at all (which means latest), unless pinned by digest."""
    if subject.kind not in ("BusinessCapability", "Deployment", "Pod"):
        return []
    bad = [img for img, ref in _refs(subject)
           if ref is None or (not ref.pinned and (ref.tag in (None, "latest")))]
    return _verdict([f"image {img} uses the latest tag (or none); use a version tag or a digest" for img in bad],
                    "no image uses the latest tag")


def _pod_rule(subject: Subject, check: Any, ok: str) -> list[Finding]:
    specs = pod_specs(subject)
    if subject.kind not in ("BusinessCapability", "Deployment", "Pod") or not specs:
        return []
    problems = [p for where, ps in specs for c in _containers(ps) for p in check(where, ps, c)]
    return _verdict(problems, ok)


def run_as_non_root(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Every container runs as non-root: runAsNonRoot true (container or pod level) and runAsUser not 0."""
    def check(where: str, ps: Obj, c: Obj) -> list[str]:
        pod_sc, sc = ps.get("securityContext") or {}, c.get("securityContext") or {}
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        if user == 0:
            return [f"{where} container {c.get('name')} runs as user 0"]
        return [] if non_root is True else [f"{where} container {c.get('name')} does not set runAsNonRoot: true"]
    return _pod_rule(subject, check, "every container runs as non-root")


def no_privilege_escalation(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Every container sets allowPrivilegeEscalation: false and is not privileged."""
    def check(where: str, ps: Obj, c: Obj) -> list[str]:
        sc = c.get("securityContext") or {}
        if sc.get("privileged") is True:
            return [f"{where} container {c.get('name')} is privileged"]
        return [] if sc.get("allowPrivilegeEscalation") is False else \
            [f"{where} container {c.get('name')} does not set allowPrivilegeEscalation: false"]
    return _pod_rule(subject, check, "no container can escalate privileges")


def read_only_root_filesystem(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Every container mounts its root filesystem read-only."""
    def check(where: str, ps: Obj, c: Obj) -> list[str]:
        ro = (c.get("securityContext") or {}).get("readOnlyRootFilesystem")
        return [] if ro is True else [f"{where} container {c.get('name')} does not set readOnlyRootFilesystem: true"]
    return _pod_rule(subject, check, "every root filesystem is read-only")


def resource_limits_set(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Every container has limits for `resources` (default cpu and memory).

    With `requireExplicit: true` a capability must state the limits in its own spec rather than
    rely on the platform's defaults.
    """
    wanted = _str_list(params, "resources", ["cpu", "memory"])
    if isinstance(wanted, str):
        return [Finding("error", wanted)]
    explicit = params.get("requireExplicit", False)
    if not isinstance(explicit, bool):
        return [Finding("error", "parameter requireExplicit must be true or false")]
    if subject.kind == "BusinessCapability" and explicit:
        limits = ((subject.spec.get("resources") or {}).get("limits")) or {}
        missing = [r for r in wanted if limits.get(r) in (None, "")]
        if missing:
            return [Finding(FAIL, f"spec.resources.limits does not state {', '.join(missing)} "
                                  "(requireExplicit: platform defaults do not count)")]

    def check(where: str, ps: Obj, c: Obj) -> list[str]:
        limits = (c.get("resources") or {}).get("limits") or {}
        missing = [r for r in wanted if limits.get(r) in (None, "")]
        return [f"{where} container {c.get('name')} has no {', '.join(missing)} limit"] if missing else []
    return _pod_rule(subject, check, f"every container has {', '.join(wanted)} limits")


def _int_param(params: dict[str, Any], key: str, default: int) -> int | str:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"parameter {key} must be a non-negative integer"
    return value


def minimum_replicas(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """Capabilities of the given `criticalities` (default high, critical) run at least `minReplicas` (default 2)."""
    minimum = _int_param(params, "minReplicas", 2)
    crits = _str_list(params, "criticalities", ["high", "critical"])
    if isinstance(minimum, str) or isinstance(crits, str):
        return [Finding("error", minimum if isinstance(minimum, str) else str(crits))]
    if subject.kind == "BusinessCapability":
        crit = str(subject.spec.get("criticality") or "medium")
        auto = subject.spec.get("autoscaling")
        replicas = int(auto.get("minReplicas", 2)) if auto else int(subject.spec.get("replicas", 2))
    elif subject.kind == "Deployment":
        crit = subject.labels.get("finplane.io/criticality", "")
        replicas = int(subject.spec.get("replicas", 1))
    else:
        return []
    if crit not in crits:
        return [Finding(PASS, f"criticality {crit or 'unset'} needs no minimum")]
    if replicas < minimum:
        return [Finding(FAIL, f"criticality {crit} needs at least {minimum} replicas, has {replicas}")]
    return [Finding(PASS, f"{replicas} replicas (at least {minimum} for criticality {crit})")]


def owner_labels_present(subject: Subject, params: dict[str, Any], ctx: Context) -> list[Finding]:
    """The object carries the `labels` (default finplane.io/team) naming its owner.

    A capability's owner comes from spec.owner (the platform stamps finplane.io/team on its
    children) and a sandbox's from spec.partner; other labels must be on the object itself.
    """
    wanted = _str_list(params, "labels", ["finplane.io/team"])
    if isinstance(wanted, str):
        return [Finding("error", wanted)]
    labels = subject.labels
    if subject.kind == "BusinessCapability":
        labels.setdefault("finplane.io/team", subject.team)
    elif subject.kind == "TenantSandbox":
        labels.setdefault("finplane.io/partner", subject.team)
        labels.setdefault("finplane.io/team", subject.team)
    missing = [k for k in wanted if not labels.get(k)]
    return _verdict([f"missing owner label {k}" for k in missing], f"owner labels present: {', '.join(wanted)}")
