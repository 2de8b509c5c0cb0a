"""kopf settings that only change what kopf costs per watch event, never what it does.

`LeanDiffBaseStorage`: for every watch event kopf builds the object's "essence" (spec, labels,
annotations) to detect changes, starting with `copy.deepcopy` of the *whole* body, including
`metadata.managedFields` and `status`, which it then throws away. With every child of every
capability watched, that copy was the operator's largest CPU cost (cProfile of bench/convergence.py:
~2 s of ~15 s for 300 capabilities). This storage hands kopf a slim view holding only what the
essence keeps (everything but metadata and status, plus the metadata fields kopf reads), so the
result is the same essence, built from far less copying. Handlers that ask for extra fields (none
today) get the stock behaviour. The essence itself is copied with `jsondata.copy_json` (JSON data:
several times cheaper than the stock `copy.deepcopy`).

`LeanProgressStorage`: kopf passes every freshly built (or freshly parsed) essence through the
progress storage's `clear`, which starts with another `copy.deepcopy` of it; the essence is already
the caller's own copy, so it is cleared in place. The two copies were ~7 % of the operator's CPU in
a profile of 200 new capabilities (issue 19): kopf builds an essence for every watch event of every
watched child, although Finplane registers no handler that reads it (no create/update/field
handlers, no daemons or timers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import kopf

from finplane.jsondata import copy_json

__all__ = ["LeanDiffBaseStorage", "LeanProgressStorage"]

# What kopf's AnnotationsDiffBaseStorage.build reads from metadata: labels and annotations go into
# the essence; ownerReferences (with kind) decide the storage key whose annotation is removed.
_KEPT_METADATA = ("labels", "annotations", "ownerReferences")


class LeanDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    def build(self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None) -> kopf.BodyEssence:
        extra = list(extra_fields or ())
        if extra:
            return super().build(body=body, extra_fields=extra)
        if self.ignored_fields:
            return super().build(body=body, extra_fields=extra)
        # The stock DiffBaseStorage.build, step by step, with copy_json for copy.deepcopy.
        meta = body.get("metadata") or {}
        essence: dict[str, Any] = {k: copy_json(v) for k, v in body.items()
                                   if k not in ("apiVersion", "kind", "metadata", "status")}
        picked = {k: copy_json(meta[k]) for k in ("labels", "annotations") if k in meta}
        if picked:
            essence["metadata"] = picked
        annotations = essence.get("metadata", {}).get("annotations", {})
        ignored_prefixes = self._detect_marked_prefixes(annotations)
        for annotation in list(annotations):
            if any(annotation.startswith(f"{prefix}/") for prefix in ignored_prefixes) or \
                    annotation == "kubectl.kubernetes.io/last-applied-configuration":
                del annotations[annotation]
        result = cast(kopf.BodyEssence, essence)
        self.remove_empty_stanzas(result)
        # AnnotationsDiffBaseStorage.build: drop its own annotation (its key depends on ownerReferences).
        slim = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
                "metadata": {k: meta[k] for k in _KEPT_METADATA if k in meta}}
        self.remove_annotations(result, set(self.make_keys(self.key, body=kopf.Body(cast(kopf.RawBody, slim)))))
        self.remove_empty_stanzas(result)
        return result


class LeanProgressStorage(kopf.AnnotationsProgressStorage):
    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        # The stock clear deep-copies first; kopf always hands it an essence it just built or parsed.
        annotations = essence.get("metadata", {}).get("annotations", {})
        keys = {key for key in annotations if self.prefix and key.startswith(f"{self.prefix}/")}
        self.remove_annotations(essence, keys)
        self.remove_empty_stanzas(essence)
        return essence
