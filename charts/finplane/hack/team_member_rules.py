"""Write the rules of a Team's owners and members into the chart (`files/team-member-rules.yaml`).

The one source of truth is `finplane.render.team.MEMBER_RULES`: the operator renders it as a Role per team
namespace when it runs without the chart (embedded API server, `finplane dev`), and the chart's
`<release>-team-member` ClusterRole includes this generated file. Run
`python charts/finplane/hack/team_member_rules.py` after changing MEMBER_RULES;
`tests/chart/test_chart_team_rbac.py` fails while the file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from finplane.render.team import member_rules_yaml

TARGET = Path(__file__).resolve().parent.parent / "files" / "team-member-rules.yaml"


def write(target: Path = TARGET) -> bool:
    """Write the file; True when it changed."""
    text = member_rules_yaml()
    if target.exists() and target.read_text() == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return True


if __name__ == "__main__":
    print("wrote" if write() else "unchanged", TARGET)
    sys.exit(0)
