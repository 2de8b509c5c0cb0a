"""An informer whose list and watch carry a ``fieldSelector``: the API's watch of Events about Finplane objects.

:class:`finplane.kube.informer.Informer` selects by label only; Events carry no labels, but the API server
selects them by ``involvedObject.*`` fields, so the API is sent only the Events it keeps
(:data:`platform_api.event_index.FIELD_SELECTOR`), not every Pod's. Built by
:class:`platform_api.cache.InformerCache`; everything else (paged relist, 410 Gone, backoff) is the informer's.
"""

from __future__ import annotations

from typing import Any

from finplane.kube.client import KubeClient
from finplane.kube.informer import Informer
from finplane.kube.resources import Resource

__all__ = ["FieldSelectedInformer"]


class FieldSelectedInformer(Informer):
    """:class:`~finplane.kube.informer.Informer` with a field selector on its list and watch requests."""

    def __init__(self, *args: Any, field_selector: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_selector = field_selector

    @classmethod
    def sharing(cls, kube: KubeClient, resource: Resource, *, field_selector: str,
                **kwargs: Any) -> FieldSelectedInformer:
        """One sharing the gateway's connection pool, as :func:`finplane.kube.informer.informer_for` builds."""
        return cls(kube._api, resource, field_selector=field_selector, **kwargs)  # as informer_for shares it

    async def _get(self, query: dict[str, Any], *, stream: bool) -> Any:
        return await super()._get({**query, "fieldSelector": self.field_selector}, stream=stream)
