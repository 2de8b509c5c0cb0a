"""The CR spec models, taken from the kind registry (the single source of truth).

Called by the services before every write: a spec that its pydantic model refuses is answered
with a 422 listing the fields, before anything reaches the cluster.
"""

from __future__ import annotations

from pydantic import BaseModel

from finplane.models.registry import kind_info

__all__ = ["spec_model"]


def spec_model(kind: str) -> type[BaseModel]:
    """The pydantic spec model of a Finplane kind."""
    return kind_info(kind).spec_model
