"""`finplane evidence verify | export | public-key` as a user runs them, and where they look.

Covers: run where `finplane dev` ran, verify and export find the log it writes (the folders they
look in are `finplane dev`'s and the settings' own defaults); `FINPLANE_EVIDENCE_DIR` comes first;
`public-key` prints the key the entries are signed with, and verify with only that public key
accepts the log; an anchor file that is not an export is exit 2 with its name; `--kubeconfig`
reads the heads the policies' status records from the cluster and fails a log that does not reach
them; `--s3-bucket` anchors on the newest entry shipped to S3 (moto); a record of several writers'
chains is found, verified and exported as one, and an export's per-chain signed heads catch a chain cut
below them; with no local record, `--kubeconfig` says where the cluster keeps it (the operator's evidence
PersistentVolumeClaim and S3 bucket, read from its Deployment and settings); the evidence modules of the
policy package import no CLI code.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from finplane.cli import app
from finplane.commands import evidence as cmd
from finplane.external.s3_evidence import S3EvidenceShipper
from finplane.policy.evidence import EvidenceLog

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FINPLANE_EVIDENCE_KEY_FILE", "FINPLANE_EVIDENCE_DIR", "FINPLANE_EVIDENCE_WRITER"):
        monkeypatch.delenv(var, raising=False)


def dev_log(root: Path, entries: int = 3) -> EvidenceLog:
    log = EvidenceLog(root / cmd.DEV_STATE_DIR / "evidence" / "evidence.jsonl")
    for n in range(entries):
        log.append({"type": "mode", "policy": f"p{n}", "mode": "audit"})
    return log


def test_the_folders_looked_in_are_finplane_devs_and_the_settings_defaults() -> None:
    from finplane import dev
    from finplane.settings import Settings

    assert inspect.signature(dev.run).parameters["state_dir"].default == cmd.DEV_STATE_DIR
    assert 'str(state / "evidence")' in inspect.getsource(dev)  # dev.py's FINPLANE_EVIDENCE_DIR
    assert Path(Settings.model_fields["evidence_dir"].default) == cmd.SETTINGS_DIR


def test_verify_and_export_find_the_log_finplane_dev_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = dev_log(tmp_path)
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["evidence", "verify", "--expect-head", log.head])
    assert res.exit_code == 0, res.output
    assert ".finplane/dev/evidence/evidence.jsonl: OK, 3 entries" in res.output and "reaches --expect-head" in res.output
    (tmp_path / cmd.DEV_STATE_DIR / "kubeconfig").write_text("{}")  # `finplane dev` is running
    res = runner.invoke(app, ["evidence", "verify"])
    assert res.exit_code == 0 and "NOT ANCHORED" in res.output
    assert "add --kubeconfig .finplane/dev/kubeconfig to anchor on the policies' status" in res.output
    res = runner.invoke(app, ["evidence", "export", "--from", "2020-01-01", "--to", "2100-01-01", "--out", "audit"])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "audit" / "bundle.json").read_text())["signedHead"]["hash"] == log.head


def test_finplane_evidence_dir_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev_log(tmp_path)
    other = EvidenceLog(tmp_path / "elsewhere" / "evidence.jsonl")
    other.append({"type": "mode", "policy": "x", "mode": "enforce"})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINPLANE_EVIDENCE_DIR", str(tmp_path / "elsewhere"))
    assert cmd.find_log(None) == tmp_path / "elsewhere" / "evidence.jsonl"


def test_public_key_prints_the_key_a_verifier_needs_and_nothing_else(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    log = dev_log(tmp_path)
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["evidence", "public-key"])
    assert res.exit_code == 0, res.output
    assert f"evidence signing key {log.signer.kid} (Ed25519)" in res.output and "PRIVATE" not in res.output
    pem = tmp_path / "auditor.pem"
    pem.write_text(res.output.split("\n", 1)[1])
    (tmp_path / ".finplane/dev/evidence/keys/evidence-ed25519.pem").unlink()  # the auditor has only the public key
    (tmp_path / ".finplane/dev/evidence/keys/evidence-ed25519.pub").unlink()
    res = runner.invoke(app, ["evidence", "verify", "--public-key", str(pem), "--expect-head", log.head])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evidence", "verify"])
    assert res.exit_code == 1 and "no trusted public key" in res.output


def test_an_anchor_file_that_is_not_an_export_is_refused_by_name(tmp_path: Path) -> None:
    log = dev_log(tmp_path)
    bogus = tmp_path / "notes.json"
    bogus.write_text('{"hello": "world"}')
    res = runner.invoke(app, ["evidence", "verify", "--path", str(log.path), "--anchor", str(bogus)])
    assert res.exit_code == 2 and f"{bogus}: no signed head in it" in res.output


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> None:
    subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], input=stdin, text=True, check=True,
                   capture_output=True)


def test_kubeconfig_reads_the_policies_status_heads_and_fails_a_log_that_does_not_reach_them(
        cluster: Any, tmp_path: Path) -> None:
    log = dev_log(tmp_path, entries=4)
    policy = {"apiVersion": "finplane.io/v1alpha1", "kind": "CompliancePolicy", "metadata": {"name": "baseline"},
              "spec": {"mode": "audit", "rules": [{"id": "no-latest-tag"}]}}
    kubectl(cluster.kubeconfig, "apply", "-f", "-", stdin=json.dumps(policy))
    kubectl(cluster.kubeconfig, "patch", "compliancepolicy", "baseline", "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"evidence": {"headHash": log.head}}}))
    res = runner.invoke(app, ["evidence", "verify", "--path", str(log.path), "--kubeconfig", str(cluster.kubeconfig)])
    assert res.exit_code == 0 and "reaches the status of CompliancePolicy baseline" in res.output, res.output
    log.path.write_text("".join(line + "\n" for line in log.path.read_text().splitlines()[:2]))
    res = runner.invoke(app, ["evidence", "verify", "--path", str(log.path), "--kubeconfig", str(cluster.kubeconfig)])
    assert res.exit_code == 1
    assert "does not reach the head recorded in the status of CompliancePolicy baseline" in res.output


def test_s3_bucket_anchors_on_the_newest_shipped_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("FINPLANE_AWS_REGION", "us-east-1")
    from finplane.settings import get_settings

    get_settings.cache_clear()
    log = dev_log(tmp_path, entries=5)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="evidence", ObjectLockEnabledForBucket=True)
        shipped = S3EvidenceShipper(bucket="evidence", state_dir=tmp_path).ship(log.path)
        assert shipped.shipped == 5
        assert cmd.verify(log.path, s3_bucket="evidence") == 0
        log.path.write_text("".join(line + "\n" for line in log.path.read_text().splitlines()[:4]))
        assert cmd.verify(log.path, s3_bucket="evidence") == 1
    get_settings.cache_clear()


def test_the_evidence_modules_of_the_policy_package_import_no_cli_code() -> None:
    for path in sorted((REPO / "operator/finplane/policy").glob("evidence*.py")):
        tree = ast.parse(path.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in names if m.split(".")[0] in ("typer", "click", "rich")
                    or m.startswith("finplane.commands")}, path.name


def record(root: Path) -> dict[str, EvidenceLog]:
    """A record of two writers (an operator pod and an API pod), as the chart's pods write it."""
    from finplane.policy.evidence import open_chain

    op, api = open_chain(root, writer="finplane-operator-0"), open_chain(root, writer="finplane-api-0")
    op.append({"type": "mode", "policy": "baseline", "mode": "audit"})
    api.append({"type": "api-change", "action": "create", "object": "BusinessCapability/payments/pay"})
    op.witness()
    return {"op": op, "api": api}


def test_a_record_of_several_writers_is_found_verified_exported_and_anchored_per_chain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = record(tmp_path / "evidence")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINPLANE_EVIDENCE_DIR", str(tmp_path / "evidence"))
    res = runner.invoke(app, ["evidence", "verify"])
    assert res.exit_code == 0, res.output
    assert "OK, 5 entries in 2 chains" in res.output and "finplane-api-0 (2 entries" in res.output
    res = runner.invoke(app, ["evidence", "export", "--from", "2020-01-01", "--to", "2100-01-01", "--out", "audit"])
    assert res.exit_code == 0, res.output
    bundle = json.loads((tmp_path / "audit" / "bundle.json").read_text())
    assert bundle["signedHeads"]["finplane-api-0"]["hash"] == logs["api"].head
    assert {e["chain"] for e in bundle["entries"]} == {"finplane-operator-0", "finplane-api-0"}
    api_chain = tmp_path / "evidence" / "chains" / "finplane-api-0.jsonl"
    logs["api"].append({"type": "api-change", "action": "delete", "object": "BusinessCapability/payments/pay"})
    api_chain.write_text("".join(line + "\n" for line in api_chain.read_text().splitlines()[:2]))
    res = runner.invoke(app, ["evidence", "verify", "--anchor", "audit/bundle.json"])
    assert res.exit_code == 0, res.output  # the export's heads are still there: the cut entry came after it
    api_chain.write_text(api_chain.read_text().splitlines()[0] + "\n")  # now below the exported head
    res = runner.invoke(app, ["evidence", "verify", "--anchor", "audit/bundle.json"])
    assert res.exit_code == 1 and "FAILED" in res.output and "finplane-api-0" in res.output, res.output


def test_without_a_local_record_verify_with_a_kubeconfig_says_where_the_cluster_keeps_it(
        cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.chart import NAMESPACE, find, render

    objects = render({"operator": {"settings": {"evidenceS3Bucket": "bank-evidence"}}})
    kubectl(cluster.kubeconfig, "create", "namespace", NAMESPACE)
    for obj in (find(objects, "ConfigMap", "finplane-operator")[0], find(objects, "Deployment", "finplane-operator")[0]):
        kubectl(cluster.kubeconfig, "apply", "-f", "-", stdin=json.dumps(obj))
    monkeypatch.chdir(tmp_path)  # nothing recorded here
    res = runner.invoke(app, ["evidence", "verify", "--kubeconfig", str(cluster.kubeconfig)])
    assert res.exit_code == 2
    assert "no evidence log found; looked at:" in res.output and "chains" in res.output
    assert f"Deployment {NAMESPACE}/finplane-operator keeps it on PersistentVolumeClaim {NAMESPACE}/finplane-evidence" \
        in res.output
    assert "kubectl cp" in res.output and "--s3-bucket bank-evidence" in res.output
