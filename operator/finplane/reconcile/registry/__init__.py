"""The ImageRegistry kind, which spans several modules: its reconciler and what it is made of.

`reconciler` (the KindReconciler: targets -> logins -> pull Secrets -> ServiceAccounts -> status),
`creds` (logins and their refresh schedule), `pull_secrets` (write, prune, wire ServiceAccounts),
`targets` (which namespaces need the Secret), `access` (may an image be pulled through a registry:
read by the capability and sandbox reconcilers). Added to the runtime by `handlers.registrations`.
"""

from finplane.reconcile.registry.reconciler import KIND, RegistryReconciler, ServiceAccountRefs

__all__ = ["KIND", "RegistryReconciler", "ServiceAccountRefs"]
