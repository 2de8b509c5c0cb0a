"""Copy the generated Finplane CRDs (the repository's `crds/*.yaml`) into the chart's `crds/` folder.

Run after `finplane crds` (or `make crds`): `python charts/finplane/hack/sync_crds.py`.
Helm installs `crds/` verbatim and cannot template or follow files outside the chart once it is packaged,
so the chart carries copies; `tests/chart/test_chart_crds.py` fails when they drift. Files in the chart's
`crds/` that come from elsewhere (kopf's peering CRDs, `kopf.dev_*.yaml`) are left alone.

The optional third-party CRDs Finplane writes to (the repository's `crds/extra/*.yaml`, the wgpolicyk8s.io
PolicyReport API) go to the chart's `files/crds/` instead: a template installs them only when
`features.policyReportCRDs` is true, since clusters running Kyverno or Policy Reporter already have them.
The sandbox members' rules (`files/sandbox-member-rules.yaml`) are written by hack/sandbox_member_rules.py.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

CHART = Path(__file__).resolve().parent.parent
REPO = CHART.parent.parent
OWN_PREFIX = "finplane.io_"


def sync(source: Path = REPO / "crds", target: Path = CHART / "crds") -> list[str]:
    """Make target's finplane.io_*.yaml exactly source's; return what changed, one line each."""
    changes: list[str] = []
    wanted = {p.name: p for p in sorted(source.glob(f"{OWN_PREFIX}*.yaml"))}
    for stale in sorted(target.glob(f"{OWN_PREFIX}*.yaml")):
        if stale.name not in wanted:
            stale.unlink()
            changes.append(f"removed {stale.name}")
    for name, path in wanted.items():
        dest = target / name
        if not dest.exists() or dest.read_bytes() != path.read_bytes():
            shutil.copyfile(path, dest)
            changes.append(f"copied {name}")
    return changes


def sync_extra(source: Path = REPO / "crds" / "extra", target: Path = CHART / "files" / "crds") -> list[str]:
    """Make target's *.yaml exactly source's (every file there is a copy); return what changed."""
    changes: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in sorted(source.glob("*.yaml"))}
    for stale in sorted(target.glob("*.yaml")):
        if stale.name not in wanted:
            stale.unlink()
            changes.append(f"removed files/crds/{stale.name}")
    for name, path in wanted.items():
        dest = target / name
        if not dest.exists() or dest.read_bytes() != path.read_bytes():
            shutil.copyfile(path, dest)
            changes.append(f"copied files/crds/{name}")
    return changes


if __name__ == "__main__":
    for line in sync() + sync_extra():
        print(line)
    sys.exit(0)
