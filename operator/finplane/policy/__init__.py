"""Pure compliance rules: object -> findings."""
