"""The CR spec models, looked up lazily so the API runs (and validates less) while a kind is absent.

Called by the services before every write: a spec that its pydantic model refuses is answered
with a 422 listing the fields, before anything reaches the cluster.
"""

from __future__ import annotations

import importlib

from pydantic import BaseModel

__all__ = ["spec_model"]

_MODULES = {
    "BusinessCapability": ("finplane.models.business_capability", "BusinessCapabilitySpec"),
    "Channel": ("finplane.models.channel", "ChannelSpec"),
    "TenantSandbox": ("finplane.models.tenant_sandbox", "TenantSandboxSpec"),
    "CompliancePolicy": ("finplane.models.compliance_policy", "CompliancePolicySpec"),
}


def spec_model(kind: str) -> type[BaseModel] | None:
    module_name, attr = _MODULES[kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    model = getattr(module, attr, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None
