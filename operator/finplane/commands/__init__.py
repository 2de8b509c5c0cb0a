"""The I/O halves of `finplane` subcommands: read files or the cluster, call a pure layer, print.

`finplane.cli` parses arguments and calls one function here; the function does the reading and
printing (files, the Kubernetes gateway, typer) around the pure code it delegates to
(`finplane.render.offline`, `finplane.policy.preview`, `finplane.policy.evidence`). The import-linter contracts in pyproject.toml
keep the pure layers free of that I/O; this package is where it is allowed.
"""
