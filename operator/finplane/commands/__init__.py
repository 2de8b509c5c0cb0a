"""The `finplane` subcommands that are more than a line: one module per command group, registered by `finplane.cli`."""
