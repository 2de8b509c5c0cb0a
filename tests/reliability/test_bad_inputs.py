"""A corpus of bad inputs (tests/reliability/bad_inputs/*.yaml) sent to the API server with the operator running.

Each file starts with `# expect:` lines: `422 FIELD` (the API server refuses the object with 422 Invalid and
names FIELD in its causes or message) or `KIND/NAMESPACE/NAME TYPE=STATUS REASON` (the object is stored and
the operator gives it that precise condition). Covers: wrong types, huge strings, unicode and control
characters in names and labels, negative quantities, limits below requests, circular and self
dependencies, references to missing objects, TTL beyond the platform's and the schema's maximum, an
expired waiver (stops applying: the policy counts the waived violations again) and a self-approved one;
the operator survives the whole corpus (same process, no Traceback) and a good capability created after
it still becomes Ready.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    Cluster,
    OperatorProcess,
    condition,
    fault_cluster,
    is_ready,
    start_operator,
    wait_for,
)
from tests.support.builders import capability, namespace
from tests.support.reliability import load_yaml_docs

pytestmark = [pytest.mark.e2e]

CORPUS = Path(__file__).parent / "bad_inputs"
FILES = sorted(CORPUS.glob("*.yaml"))
PLURALS = {"BusinessCapability": "businesscapabilities", "TenantSandbox": "tenantsandboxes",
           "CompliancePolicy": "compliancepolicies", "Channel": "channels"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, OperatorProcess]]:
    tmp = tmp_path_factory.mktemp("bad-inputs")
    cluster = fault_cluster(tmp)
    cluster.apply([namespace("bad"), namespace("waivers")])
    operator = start_operator(cluster, tmp)
    yield cluster, operator
    operator.stop()
    cluster.handle.stop()


def _post(cluster: Cluster, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ns = (obj.get("metadata") or {}).get("namespace")
    path = f"/apis/finplane.io/v1alpha1{'/namespaces/' + ns if ns else ''}/{PLURALS[obj['kind']]}"
    req = urllib.request.Request(cluster.url + path, data=json.dumps(obj).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _expectations(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^# expect: (.+)$", path.read_text(), re.M)]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_bad_input_gets_a_422_or_a_precise_condition(stack: tuple[Cluster, OperatorProcess], path: Path) -> None:
    cluster, _ = stack
    expects = _expectations(path)
    assert expects, f"{path.name} says nothing about what it expects"
    answers = [_post(cluster, doc) for doc in load_yaml_docs(path)]
    for expect in expects:
        if expect.startswith("422 "):
            field = expect.split(" ", 1)[1]
            code, body = answers[0]
            assert code == 422, f"{path.name}: expected 422, got {code}: {body}"
            causes = json.dumps(body.get("details", {}).get("causes", [])) + body.get("message", "")
            assert field in causes, f"{path.name}: the 422 does not name {field}: {body}"
            continue
        assert all(code == 201 for code, _ in answers), f"{path.name}: refused: {answers}"
        target, cond, reason = expect.split()
        kind, ns, name = target.split("/")
        type_, status = cond.split("=")
        plural = PLURALS[kind]

        def matches(kind: str = plural, name: str = name, ns: str = ns, type_: str = type_,
                    reason: str = reason) -> dict[str, Any] | None:
            c = condition(cluster.get(kind, name, None if ns == "-" else ns), type_)
            return c if c and c.get("reason") == reason else None

        got = wait_for(matches, timeout=60, what=f"{target} {type_} with reason {reason}")
        assert got["status"] == status, got


def test_the_operator_survives_the_corpus_and_a_good_capability_still_becomes_ready(
        stack: tuple[Cluster, OperatorProcess]) -> None:
    cluster, operator = stack
    for path in FILES:  # the corpus again, in case this test runs alone
        for doc in load_yaml_docs(path):
            _post(cluster, doc)
    code, body = _post(cluster, capability("good-after-bad", "bad"))
    assert code == 201, body
    wait_for(lambda: is_ready(cluster.get("businesscapability", "good-after-bad", "bad")), timeout=60,
             what="a good capability Ready after the bad inputs")
    assert operator.proc is not None and operator.proc.poll() is None
    assert "Traceback" not in operator.logs()
