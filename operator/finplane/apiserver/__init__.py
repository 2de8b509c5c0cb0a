"""The embedded Kubernetes API server for local use and tests. The operator and the API never import it."""
