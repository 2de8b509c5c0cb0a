"""Security scanners a bank's review runs pass: checkov's Kubernetes checks on the rendered chart (every
value set; each skipped check carries its reason in a `checkov.io/skipN` annotation), and hadolint on the
Dockerfile, whose image runs as a numeric non-root user with a healthcheck and OCI labels.

checkov 3.3.30 pins older boto3/botocore/networkx/packaging than our lock, so it cannot live in .venv: the
test creates a separate virtual environment for it once, under .venv-tools/checkov (cached afterwards)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import REPO

CHECKOV_VERSION = "3.3.30"
TOOLS = REPO / ".venv-tools" / "checkov"
HADOLINT = Path(sys.executable).parent / "hadolint"


def checkov() -> Path:
    """The checkov executable, installing it into its own cached virtual environment on first use."""
    exe = TOOLS / "bin" / "checkov"
    marker = TOOLS / f".installed-{CHECKOV_VERSION}"
    if not marker.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(TOOLS)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        f"checkov=={CHECKOV_VERSION}"], check=True, timeout=900)
        marker.touch()
    return exe


@pytest.mark.slow
def test_checkov_finds_nothing_in_any_rendered_value_set(rendered: dict[str, list[dict[str, Any]]], tmp_path: Path) -> None:
    for name, objects in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    cp = subprocess.run([str(checkov()), "-d", str(tmp_path), "--framework", "kubernetes", "-o", "json", "--compact",
                         "--skip-download"], capture_output=True, text=True, timeout=300, check=False)
    report = json.loads(cp.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for r in reports
              for c in r.get("results", {}).get("failed_checks", [])]
    assert failed == [], "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 100  # the scan really looked at the workloads
    assert sum(r["summary"]["parsing_errors"] for r in reports) == 0
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    assert skipped, "the chart's checkov.io/skip annotations were not applied"
    for check in skipped:
        reason = check.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{check['check_id']} skipped without a reason"


def test_every_checkov_skip_in_the_chart_gives_a_reason() -> None:
    templates = (REPO / "charts" / "finplane" / "templates").rglob("*.yaml")
    skips = [line.strip() for path in templates for line in path.read_text().splitlines() if "checkov.io/skip" in line]
    assert skips
    for skip in skips:
        assert re.fullmatch(r"checkov\.io/skip\d+: CKV2?_K8S_\d+=\S.{20,}", skip), skip


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    cp = subprocess.run([str(HADOLINT), "--failure-threshold", "info", str(REPO / "Dockerfile")],
                        capture_output=True, text=True, timeout=60, check=False)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_the_image_runs_as_a_numeric_non_root_user_with_healthcheck_and_oci_labels() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 2, "multi-stage build"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim", text, re.M), "pinned slim Python 3.11 base"
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), "last USER is numeric and not root"
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    for label in ("title", "version", "revision", "source", "licenses"):
        assert f"org.opencontainers.image.{label}=" in text
    assert "requirements.lock" in text and re.search(r'^ENTRYPOINT \["finplane"\]', text, re.M)


def test_the_build_context_holds_only_what_the_image_needs() -> None:
    lines = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    allowed = {line.lstrip("!").rstrip("/") for line in lines if line.startswith("!")}
    copied = {part.rstrip("/") for line in re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO / "Dockerfile").read_text(), re.M)
              for part in line.split()}
    assert copied <= allowed, copied - allowed
