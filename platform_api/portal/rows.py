"""The catalog's table rows, rendered once per capability version and then reused.

Called by :mod:`platform_api.portal.pages_catalog`. With 10,000 capabilities the catalog page must cost what
the API's ``GET /catalog`` costs (bench/portal_catalog.py), and rendering fifty rows through jinja2 on every
request cost more than the whole API route. A row depends on nothing but its capability (its summary,
:func:`platform_api.services.catalog.entry`), so it is rendered from ``_catalog_row.html`` once per
(namespace, name, uid, resourceVersion) and kept in a bounded least-recently-used map: any change to the
capability (spec or status) gives it a new resourceVersion, hence a new row. An object without a
resourceVersion (a hand-built double) is rendered every time.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import jinja2
from markupsafe import Markup

from platform_api.services import catalog

__all__ = ["MAX_ROWS", "RowCache"]

MAX_ROWS = 4096  # rows kept: a few hundred kilobytes, far more than the pages people look at in a minute
Key = tuple[str, str, str, str]


class RowCache:
    """Rendered catalog rows by capability version, at most ``size`` of them."""

    def __init__(self, env: jinja2.Environment, *, size: int = MAX_ROWS) -> None:
        self._template = env.get_template("_catalog_row.html")
        self._rows: OrderedDict[Key, Markup] = OrderedDict()
        self.size = size

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, obj: dict[str, Any]) -> Markup:
        meta = obj.get("metadata") or {}
        version = meta.get("resourceVersion")
        key = (str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or ""),
               str(version or ""))
        if version:
            kept = self._rows.get(key)
            if kept is not None:
                self._rows.move_to_end(key)
                return kept
        html = Markup(self._template.render(e=catalog.entry(obj)))  # autoescaped: a capability writes no markup
        if version:
            self._rows[key] = html
            if len(self._rows) > self.size:
                self._rows.popitem(last=False)
        return html
