"""Pure status helpers: Kubernetes-shaped conditions and the Ready summary."""
