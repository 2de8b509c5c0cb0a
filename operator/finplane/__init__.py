"""Finplane: a Kubernetes operator and internal developer platform for financial institutions.

The package lives in the `operator/` source folder (which has no ``__init__.py``) so that
``import operator`` keeps giving Python's standard module when run from the repository root.
"""

__version__ = "0.1.0"
GROUP = "finplane.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "finplane-operator"

__all__ = ["API_VERSION", "FIELD_MANAGER", "GROUP", "VERSION", "__version__"]
