"""May an image be pulled through a given ImageRegistry, on whose behalf? (server, repositories, the grant)

Pure; called by the capability reconciler for its ImagePullAccess condition (refused: nothing applied) and
by `registry.targets` for the namespaces that get the pull Secret, so both apply the same rules. Registry
use is granted, never taken: the registry's `allowedTeams` must name the namespace's Team (or its
namespaceSelector select the namespace) AND the Team's own `allowedRegistries` must allow the registry.
The ImageRegistry reconciler owns writing the pull secrets themselves.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from finplane.models.common import LabelSelector
from finplane.names import NAMESPACE, TEAM
from finplane.render.capability_callers import team_resolver
from finplane.render.image import parse_image

__all__ = ["NOT_GRANTED", "image_allowed", "pull_secret_for", "registry_grants", "selector_matches"]

Obj = dict[str, Any]
#: ImagePullAccess=False: the registry does not grant the capability's team (or its Team does not allow it).
NOT_GRANTED = "RegistryNotGranted"


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics; no selector selects nothing (an empty one selects all)."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.match_labels or {}).items()):
        return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def _selector(spec: Obj) -> LabelSelector | None:
    raw = spec.get("namespaceSelector")
    if raw is None:
        return None
    try:
        return LabelSelector.model_validate(raw)
    except ValidationError:
        return None  # the registry's own pass refuses an invalid spec; an invalid selector selects nothing


def selected(registry: Obj, namespace: str, namespaces: Mapping[tuple[str, str], Obj]) -> bool:
    """Whether the registry's namespaceSelector selects `namespace` (as it is in the store)."""
    ns = namespaces.get(("", namespace))
    labels = {**(((ns or {}).get("metadata") or {}).get("labels") or {}), "kubernetes.io/metadata.name": namespace}
    return ns is not None and selector_matches(_selector(registry.get("spec") or {}), labels)


def registry_grants(registry: Obj, *, namespace: str, stores: Mapping[str, Mapping[Any, Obj]], migrate: bool,
                    grant: str = "") -> tuple[bool, str, str]:
    """(granted, reason, message): may capabilities of `namespace` use `registry`'s credentials?

    `migrate` (FINPLANE_TEAM_OWNERSHIP=migrate): a namespace no Team holds has the team of its
    `finplane.io/team` label (render.capability_callers.team_resolver)."""
    spec, name = registry.get("spec") or {}, registry["metadata"]["name"]
    ok = (True, "PullSecretWired", grant or f"pods pull with the {name} pull secret")
    if selected(registry, namespace, stores.get(NAMESPACE, {})):
        return ok  # the registry's owners selected this namespace themselves
    teams = stores.get(TEAM, {})
    team = team_resolver(teams=teams.values(), namespaces=stores.get(NAMESPACE, {}), migrate=migrate)(namespace)
    granted = list(spec.get("allowedTeams") or [])
    if team is None:
        return False, NOT_GRANTED, (f"namespace {namespace} belongs to no Team and ImageRegistry {name}'s "
                                    "namespaceSelector does not select it; no pull Secret is written and nothing "
                                    "is applied")
    if team not in granted:
        return False, NOT_GRANTED, (f"ImageRegistry {name} does not grant team {team} (allowedTeams: "
                                    f"{', '.join(granted) or 'none'}); ask its owners to add {team} to its "
                                    "spec.allowedTeams; no pull Secret is written and nothing is applied")
    team_allows = ((teams.get(("", team)) or {}).get("spec") or {}).get("allowedRegistries")
    if team_allows is not None and name not in team_allows:
        return False, "RegistryNotAllowed", (f"team {team} may not use ImageRegistry {name} (allowed: "
                                             f"{', '.join(team_allows) or 'none'}); change spec.registryRef or the "
                                             "Team's spec.allowedRegistries")
    return ok


def image_allowed(registry: dict[str, Any], image: str) -> tuple[bool, str, str]:
    """(allowed, reason, message) for pulling `image` with `registry`'s credentials."""
    spec = registry.get("spec") or {}
    name = registry["metadata"]["name"]
    try:
        ref = parse_image(image)
    except ValueError as exc:
        return False, "InvalidImage", str(exc)
    server = str(spec.get("server") or "").removeprefix("https://").removeprefix("http://").rstrip("/")
    ecr = spec.get("ecr") or {}
    if not server and ecr.get("accountId") and ecr.get("region"):  # ECR's host is derived, as the Secret's is
        server = f"{ecr['accountId']}.dkr.ecr.{ecr['region']}.amazonaws.com"
    if server and ref.registry != server:
        return False, "RegistryMismatch", (f"image registry {ref.registry} is not served by ImageRegistry {name} "
                                           f"({server}); use an image from {server} or another registryRef")
    patterns = spec.get("allowedRepositories") or []
    if patterns and not any(fnmatch.fnmatchcase(ref.repository, p) for p in patterns):
        return False, "RepositoryNotAllowed", (f"repository {ref.repository} is outside ImageRegistry {name}'s "
                                               f"allowedRepositories {patterns}")
    return True, "PullSecretWired", f"pods pull with the {name} pull secret"


def pull_secret_for(stores: dict[str, dict[Any, dict[str, Any]]], registry: str) -> str:
    """Name of the pull Secret ImageRegistry `registry` writes (its spec.secretName, else the default)."""
    from finplane.render.registry import pull_secret_name  # the one naming rule

    body = stores.get("ImageRegistry", {}).get(("", registry))
    return pull_secret_name(registry, ((body or {}).get("spec") or {}).get("secretName"))
