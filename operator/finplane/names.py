"""The names Finplane puts on objects: its kinds, the labels and annotations it sets, its field managers.

Pure constants, in one module so that a label is spelled once. Imported by the renderers, the
reconcilers and the handlers.
"""

from __future__ import annotations

__all__ = [
    "APPROVAL_ANNOTATION", "BUSINESS_CAPABILITY", "CAPABILITY_LABEL", "CHANNEL", "CHANNEL_LABEL", "COMPLIANCE_POLICY",
    "HASH_ANNOTATION", "IMAGE_REGISTRY", "MANAGED_BY_LABEL", "MANAGED_BY_VALUE", "NAMESPACE", "OWNER_LABEL",
    "REGISTRY_FIELD_MANAGER", "REGISTRY_LABEL", "ROLE_ANNOTATION", "ROTATION_ANNOTATION", "ROUTE_LABEL",
    "SANDBOX_LABEL", "TEAM", "TENANT_SANDBOX",
]

# Kinds
BUSINESS_CAPABILITY = "BusinessCapability"
CHANNEL = "Channel"
TENANT_SANDBOX = "TenantSandbox"
IMAGE_REGISTRY = "ImageRegistry"
COMPLIANCE_POLICY = "CompliancePolicy"
TEAM = "Team"
NAMESPACE = "Namespace"

# Labels
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "finplane"
OWNER_LABEL = "finplane.io/owner-uid"
CAPABILITY_LABEL = "finplane.io/capability"
SANDBOX_LABEL = "finplane.io/sandbox"
REGISTRY_LABEL = "finplane.io/image-registry"
CHANNEL_LABEL = "finplane.io/channel"
ROUTE_LABEL = "finplane.io/channel-route"

# Annotations
HASH_ANNOTATION = "finplane.io/rendered-hash"
APPROVAL_ANNOTATION = "finplane.io/approval"
ROLE_ANNOTATION = "finplane.io/aws-role-arn"
ROTATION_ANNOTATION = "finplane.io/credential-rotation"

# Field managers besides the operator's own (Settings.field_manager)
REGISTRY_FIELD_MANAGER = "finplane-registry"
