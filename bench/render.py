"""Render: child manifests per second from `finplane render`'s function for N capabilities.

Builds N capability documents (a mix: a third with autoscaling, a third with two dependencies,
spread over 50 namespaces), then times `finplane.render.offline.render_documents` on them, which is
what `finplane render -f FILE` calls (parse into the model, check, render). YAML parsing and
printing are included in a second figure: the same documents through `render_file` (what the command
runs from reading the file to the printed YAML).

Run: .venv/bin/python bench/render.py [--capabilities 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from _common import emit, exit_on_sigterm, log

from finplane.commands.render import render_file
from finplane.render.offline import render_documents
from finplane.settings import Settings


def _doc(i: int) -> dict[str, Any]:
    ns = f"team-{i % 50:02d}"
    spec: dict[str, Any] = {"owner": {"team": ns, "contact": f"{ns}@bank.example"}, "domain": "payments",
                            "description": f"benchmark capability {i}",
                            "image": f"registry.finplane.local/{ns}/app:1.{i % 7}.0"}
    if i % 3 == 1:
        spec["autoscaling"] = {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilizationPercentage": 70}
    if i % 3 == 2 and i >= 100:
        spec["dependencies"] = [{"name": f"cap-{i - 50:05d}"}, {"name": f"cap-{i - 100:05d}"}]
    return {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
            "metadata": {"name": f"cap-{i:05d}", "namespace": ns}, "spec": spec}


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capabilities", type=int, default=10_000)
    args = parser.parse_args()
    docs = [_doc(i) for i in range(args.capabilities)]
    settings = Settings()
    render_documents(docs[:10], settings=settings)  # warm imports and pydantic's validators
    log(f"rendering {len(docs)} capabilities")
    t0 = time.perf_counter()
    children = render_documents(docs, settings=settings)
    render_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "capabilities.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        log("rendering the same file end to end (YAML in, YAML out), as `finplane render -f` does")
        t0 = time.perf_counter()
        out = render_file(path)
        file_s = time.perf_counter() - t0
    assert out.count("\nkind: ") + out.startswith("kind: ") >= len(children) or out
    rate = len(children) / render_s
    print(f"{len(docs)} capabilities -> {len(children)} child manifests in {render_s:.2f}s: "
          f"{rate:.0f} manifests/s, {len(docs) / render_s:.0f} capabilities/s")
    print(f"end to end with YAML parsing and printing (render_file): {file_s:.2f}s, "
          f"{len(children) / file_s:.0f} manifests/s")
    emit({"capabilities": len(docs), "manifests": len(children), "render_seconds": round(render_s, 3),
          "manifests_per_second": round(rate), "capabilities_per_second": round(len(docs) / render_s),
          "render_file_seconds": round(file_s, 2), "render_file_manifests_per_second": round(len(children) / file_s)})


if __name__ == "__main__":
    main()
