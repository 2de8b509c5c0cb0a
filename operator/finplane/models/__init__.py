"""Pydantic models of the Finplane custom resources: the single source of truth for the CRD schemas."""
