"""The one test seam: what tests share, imported as `tests.support` (no `sys.path` edits anywhere).

- `builders`: CR bodies (capability, sandbox, channel, route, image_registry, compliance_policy, namespace);
- `waiting`: `wait_for` (and `eventually` for async tests): wait for behaviour, never assert times;
- `ports`: `free_port` for the processes a test starts;
- `cluster`: `Cluster` (kubectl, request counters), `embedded_cluster`, `fault_cluster`, `condition`, `is_ready`;
- `processes`: `OperatorProcess`, `PeeredOperator`, `start_operator`: the real operator process;
- `registry_peer`: a real OCI registry; `reliability`: bulk objects and metrics of the reliability suite;
- `chart`: the Helm chart rendered by the real Helm library; `policy_objects`: the policy unit tests' objects;
- `fake_kube`: the one fake of the Kubernetes gateway, for unit tests (imported from its module).

`tests` is importable because pytest puts the repository root on `sys.path` (`pythonpath = ["."]` in
pyproject.toml), which also holds under `--import-mode=importlib` and in xdist workers.
"""

from __future__ import annotations

from tests.support.cluster import Cluster, condition, embedded_cluster, fault_cluster, is_ready
from tests.support.paths import REPO
from tests.support.ports import free_port
from tests.support.processes import OperatorProcess, PeeredOperator, start_operator
from tests.support.waiting import eventually, wait_for

__all__ = ["REPO", "Cluster", "OperatorProcess", "PeeredOperator", "condition", "embedded_cluster", "eventually",
           "fault_cluster", "free_port", "is_ready", "start_operator", "wait_for"]
