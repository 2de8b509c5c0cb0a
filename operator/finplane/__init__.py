"""Finplane: a Kubernetes operator and internal developer platform for financial institutions.

The package lives in the `operator/` source folder (which has no ``__init__.py``) so that
``import operator`` keeps giving Python's standard module when run from the repository root.
"""

__version__ = "0.1.0"
GROUP = "finplane.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "finplane-operator"
#: The partner credential of a TenantSandbox: the Secret (in the sandbox's namespace) the operator writes
#: and the platform API reads, and its key. The chart's RBAC names this Secret (resourceNames) for the API.
SANDBOX_CREDENTIAL_SECRET = "partner-api-credential"
SANDBOX_CREDENTIAL_KEY = "api-key"

__all__ = ["API_VERSION", "FIELD_MANAGER", "GROUP", "SANDBOX_CREDENTIAL_KEY", "SANDBOX_CREDENTIAL_SECRET", "VERSION",
           "__version__"]
