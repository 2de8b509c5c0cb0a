"""The built-in rule library: stable ids, default severity, category, parameters, kinds.

Pure catalog, read by the engine (to evaluate), the enforcement renderers (which rules admission
can check) and the docs test (every rule is documented in docs/compliance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from finplane.policy import rules_platform as p
from finplane.policy import rules_workload as w
from finplane.policy.subject import Context, Finding, Subject

__all__ = ["RULES", "RuleInfo"]

RuleFn = Callable[[Subject, dict[str, Any], Context], list[Finding]]
WORKLOADS = ("BusinessCapability", "Deployment", "Pod")


@dataclass(frozen=True)
class RuleInfo:
    id: str
    check: RuleFn
    severity: str
    category: str
    kinds: tuple[str, ...]
    parameters: str  # one line: name (type, default) for the docs and the CLI


RULES: dict[str, RuleInfo] = {r.id: r for r in [
    RuleInfo("allowed-registries", w.allowed_registries, "high", "Supply chain", WORKLOADS + ("TenantSandbox",),
             "registries (list of host or host/prefix, required)"),
    RuleInfo("image-digest-pinned", w.image_digest_pinned, "medium", "Supply chain", WORKLOADS, "none"),
    RuleInfo("no-latest-tag", w.no_latest_tag, "medium", "Supply chain", WORKLOADS, "none"),
    RuleInfo("run-as-non-root", w.run_as_non_root, "high", "Pod Security", WORKLOADS, "none"),
    RuleInfo("no-privilege-escalation", w.no_privilege_escalation, "high", "Pod Security", WORKLOADS, "none"),
    RuleInfo("read-only-root-filesystem", w.read_only_root_filesystem, "medium", "Pod Security", WORKLOADS,
             "none"),
    RuleInfo("resource-limits-set", w.resource_limits_set, "medium", "Resilience", WORKLOADS,
             "resources (list, default [cpu, memory]); requireExplicit (bool, default false)"),
    RuleInfo("default-deny-network", p.default_deny_network, "high", "Network isolation",
             WORKLOADS + ("TenantSandbox",), "none"),
    RuleInfo("data-classification-isolation", p.data_classification_isolation, "critical", "Data protection",
             WORKLOADS + ("Channel",),
             "classifications (list, default [restricted]); publicChannelTypes (list, default "
             "[mobile, web, open-api, iot]); nodeSelector (map, optional)"),
    RuleInfo("minimum-replicas", w.minimum_replicas, "medium", "Resilience", ("BusinessCapability", "Deployment"),
             "minReplicas (int, default 2); criticalities (list, default [high, critical])"),
    RuleInfo("owner-labels-present", w.owner_labels_present, "low", "Accountability",
             WORKLOADS + ("TenantSandbox", "Channel"), "labels (list, default [finplane.io/team])"),
    RuleInfo("sandbox-max-lifetime", p.sandbox_max_lifetime, "high", "Partner access", ("TenantSandbox",),
             "maxSeconds (int, default 7776000 = 90 days)"),
    RuleInfo("sandbox-quota-present", p.sandbox_quota_present, "medium", "Partner access", ("TenantSandbox",),
             "resources (list, default [cpu, memory, pods])"),
]}
