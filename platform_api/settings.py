"""Settings of the platform API, read from the environment (prefix ``FINPLANE_API_``).

Called by :mod:`platform_api.main` at startup and by every dependency that needs a setting,
always through the cached :func:`get_settings`, which tests override (FastAPI's
``app.dependency_overrides``) or clear with ``get_settings.cache_clear()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings", "get_settings"]


class ApiSettings(BaseSettings):
    """Everything the API reads from its environment; defaults suit `finplane dev`."""

    model_config = SettingsConfigDict(env_prefix="FINPLANE_API_", extra="ignore")

    # Token verification (OIDC style). jwks is a file path or an https:// URL.
    issuer: str = "https://idp.finplane.example"
    audience: str = "finplane-api"
    jwks: str | None = None
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    # Clock skew tolerated on exp/nbf/iat; bounded so a misconfiguration cannot disable expiry.
    leeway_seconds: int = Field(default=30, ge=0, le=300)

    # The development key pair: trusted only when dev_mode is on (`finplane dev` sets it).
    dev_mode: bool = False
    dev_key_dir: Path = Field(default_factory=lambda: Path.home() / ".finplane")
    dev_issuer: str = "https://finplane.local/dev"

    # Partner usage (GET /api/v1/sandboxes/{name}/usage): the Prometheus that evaluates the operator's
    # metering rules (finplane.render.gateway_metering), e.g. http://prometheus-operated.monitoring:9090.
    # Unset: the route answers 503 UsageNotConfigured.
    prometheus_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=2048)
    prometheus_timeout_seconds: float = Field(default=5.0, gt=0, le=30)

    # Where teams' capabilities live: the namespace of team T is this template formatted.
    team_namespace_template: str = "{team}"

    # Per-identity rate limit: a token bucket refilled at rate_limit_per_second up to burst.
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)

    # Authentication failures (any 401) per client address: the one that reaches the limit within the window
    # locks the address out (429 with Retry-After) for one window. Behind a proxy, run uvicorn with
    # --forwarded-allow-ips so that the client address is the caller's, not the proxy's.
    auth_failure_limit: int = Field(default=30, ge=1)
    auth_failure_window_seconds: float = Field(default=60.0, gt=0, le=86_400)

    # Request bodies: larger ones are refused with 413 before they are read in full (and before
    # authentication); JSON nested deeper is refused with 400 before it is parsed. The depth is bounded
    # so that no setting lets a body reach Python's recursion limit.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_depth: int = Field(default=64, ge=2, le=200)

    # Audit log of every change (JSON lines); None writes to the `finplane.audit` logger only.
    audit_log: Path | None = None
    # The compliance engine's evidence folder, the operator's own FINPLANE_EVIDENCE_DIR: the API reads
    # its hash chain (export, verify) and appends every authenticated change to it (one chain, locked
    # on append). None turns both off (export and verify answer 503).
    evidence_dir: Path | None = Field(default=Path(".finplane/evidence"),
                                      validation_alias=AliasChoices("FINPLANE_EVIDENCE_DIR", "evidence_dir"))

    # Partner sandboxes. The longest lifetime is the operator's own FINPLANE_SANDBOX_MAX_TTL_SECONDS (same
    # variable, so the API refuses what the operator would refuse); partners may name only members whose
    # user or group name starts with this template, formatted with their partner claim.
    sandbox_max_ttl_seconds: int = Field(default=90 * 24 * 3600, gt=0, validation_alias=AliasChoices(
        "FINPLANE_SANDBOX_MAX_TTL_SECONDS", "sandbox_max_ttl_seconds"))
    partner_member_prefix: str = Field(default="partner:{partner}:", min_length=1, max_length=128)

    # Waiver requests: the longest waiver, how many requests one team may have pending, and the namespace
    # (the API's own) where each pending request is one ConfigMap.
    waiver_max_days: int = Field(default=90, ge=1, le=3660)
    waiver_max_pending_per_team: int = Field(default=10, ge=1, le=1000)
    waiver_namespace: str = Field(default="finplane-system", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                  max_length=63)

    default_page_size: int = Field(default=50, ge=1, le=1000)
    max_page_size: int = Field(default=500, ge=1, le=5000)

    # Informers: seconds a watch stays open before it is renewed (the server may close earlier).
    watch_timeout_seconds: int = Field(default=300, ge=5)

    # Teams (platform_api.services.teams): IdP groups (the token's `groups` claim) whose members are platform
    # admins or auditors; a team identity comes from the Teams' owners and members. enforce: a team writes only
    # into namespaces its Team owns; migrate: a `team` claim naming no Team still works (hand-labelled namespaces).
    admin_groups: list[str] = Field(default_factory=list)
    auditor_groups: list[str] = Field(default_factory=list)
    team_ownership: Literal["enforce", "migrate"] = "migrate"

    # GitOps (platform_api.gitops, docs/gitops.md): refuse answers 409 ManagedByGitOps to a change or delete of a
    # finplane.io object Argo CD (tracking-id annotation, or one of gitops_tracking_labels) or Flux (its
    # kustomize/helm toolkit labels) manages; allow lets the API write, and the GitOps tool reverts what Git says.
    gitops_writes: Literal["allow", "refuse"] = "allow"
    gitops_tracking_labels: list[str] = Field(default_factory=lambda: ["argocd.argoproj.io/instance"])
    # Finplane's own namespace (the chart sets it): never a team's, whatever a token claims.
    pod_namespace: str | None = Field(default=None, validation_alias=AliasChoices("FINPLANE_POD_NAMESPACE",
                                                                                   "pod_namespace"))


@lru_cache(maxsize=1)
def get_settings() -> ApiSettings:
    """The process-wide settings, read once."""
    return ApiSettings()
