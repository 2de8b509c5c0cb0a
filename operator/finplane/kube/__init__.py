"""The one place that imports the Kubernetes client: apply, read, watch, cache."""
