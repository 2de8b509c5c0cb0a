"""The `finplane` client against a real `finplane dev` stack, as its four users and a newcomer run it.

One stack for the module: `finplane dev` (embedded API server, operator, platform API, examples/) in a
fresh folder, exactly as `make dev` runs it. Covers: the summary prints non-empty compliance results
(the PolicyReport CRDs are installed) and its next steps work exactly as printed; the dev login is
automatic (an admin token in a 0600 file) and `finplane login` saves a pasted token 0600 after the API
accepted it, refusing a bad one (exit 4); a team applies a capability from a file (created, then
configured), reads it in table/json/yaml, deletes it (then 404, exit 3); the catalog shows the examples
with their version; a partner requests a sandbox, cannot approve it itself (exit 4), an admin approves,
the partner reads its credential once (the second read exits 5, a rotation gives a new one) and asks for an extension an admin
approves; a team's waiver request cannot be approved by the team (exit 4), an admin approves it;
results, preview and evidence verify/export come from the API; `finplane render examples/*.yaml` prints
exactly the children the operator applied for every example, field by field, bar the server-set fields;
every shell block of README.md and docs/*.md not marked `not-run` runs as written (every command exits 0,
every curl request 2xx) from the dev folder, one shell per file (tests/cli/doc_commands.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from finplane.names import HASH_ANNOTATION, OWNER_LABEL
from tests.cli.doc_commands import DOCS, blocks, script
from tests.support.paths import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@dataclass
class Dev:
    folder: Path
    env: dict[str, str]
    summary: str

    def run(self, *args: str, token: str | None = None, cwd: Path | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **({"FINPLANE_TOKEN": token} if token else {})}
        return subprocess.run([sys.executable, "-m", "finplane", *args], cwd=cwd or self.folder, env=env,
                              capture_output=True, text=True, timeout=120, input=stdin)

    def ok(self, *args: str, token: str | None = None) -> str:
        result = self.run(*args, token=token)
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result.stdout

    def json(self, *args: str, token: str | None = None) -> Any:
        return json.loads(self.ok(*args, "-o", "json", token=token))

    def token(self, *args: str) -> str:
        return self.ok("token", *args).strip()

    def fails(self, code: int, *args: str, token: str | None = None) -> str:
        result = self.run(*args, token=token)
        assert result.returncode == code, f"{args}: exit {result.returncode}: {result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr and result.stderr.startswith("finplane: error: ")
        return result.stderr


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    folder = tmp_path_factory.mktemp("newcomer")
    for name in ("crds", "charts", ".venv"):  # the folder stands for the repository root: its CRDs, chart, venv
        (folder / name).symlink_to(REPO / name)
    (folder / "home").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINPLANE_") and k != "KUBECONFIG"}
    env.update({"HOME": str(folder / "home"), "FINPLANE_API_DEV_KEY_DIR": str(folder / "keys"), "COLUMNS": "200",
                "FINPLANE_API_RATE_LIMIT_PER_SECOND": "1000", "FINPLANE_API_RATE_LIMIT_BURST": "5000"})
    proc = subprocess.Popen([sys.executable, "-m", "finplane", "dev", "--examples", str(REPO / "examples")],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=lambda: ([lines.put(x) for x in proc.stdout or ()], lines.put(None)), daemon=True).start()
    out: list[str] = []
    deadline = time.monotonic() + 300
    try:
        while True:
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError("finplane dev exited before its summary:\n" + "".join(out))
            out.append(line)
            if line.startswith("Running; press"):
                break
        # The reader's own cluster, for the docs' kubectl commands: here, the dev stack's
        (folder / "home/.kube").mkdir()
        (folder / "home/.kube/config").symlink_to(folder / ".finplane/dev/kubeconfig")
        yield Dev(folder=folder, env=env, summary="".join(out))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert not (folder / ".finplane/dev/client.json").exists(), "the dev login outlived finplane dev"


def test_the_summary_shows_compliance_results_and_its_next_steps_work_as_printed(dev: Dev) -> None:
    results = next(line for line in dev.summary.splitlines() if line.startswith("Compliance results:"))
    assert "none" not in results and " fail" in results and "PolicyReports" in results, results
    commands = [line.split(":", 1)[1].strip() for line in dev.summary.splitlines()
                if line.startswith(("Try:", "A token:"))]
    assert len(commands) == 3 and commands[-1].endswith("token --role admin --subject you"), dev.summary
    for command in commands:
        result = subprocess.run(command, shell=True, cwd=dev.folder, env=dev.env, capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout.strip()


def test_the_dev_login_is_an_owner_only_file_and_login_saves_a_pasted_token_owner_only(dev: Dev) -> None:
    dev_login = dev.folder / ".finplane/dev/client.json"
    assert stat.S_IMODE(dev_login.stat().st_mode) == 0o600
    url = json.loads(dev_login.read_text())["url"]
    elsewhere = dev.folder / "elsewhere"  # no dev stack here: only `finplane login` can say where the API is
    elsewhere.mkdir()
    assert "no platform API configured" in dev.run("teams", "list", cwd=elsewhere).stderr
    bad = dev.run("login", "--url", url, cwd=elsewhere, stdin="not-a-token\n")
    assert bad.returncode == 4 and "401" in bad.stderr and not (dev.folder / "home/.config").exists()
    auditor = dev.token("--role", "auditor", "--subject", "audrey")
    good = dev.run("login", "--url", url, cwd=elsewhere, stdin=auditor + "\n")
    assert good.returncode == 0 and "as audrey (role auditor)" in good.stdout, good.stderr
    saved = dev.folder / "home/.config/finplane/config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and auditor not in good.stdout + good.stderr
    teams = dev.run("teams", "list", "-o", "json", cwd=elsewhere)
    assert teams.returncode == 0 and {t["name"] for t in json.loads(teams.stdout)} == {"payments", "kyc", "onboarding"}


def test_a_team_applies_reads_and_deletes_a_capability_from_a_file(dev: Dev) -> None:
    pat = dev.token("--role", "team", "--team", "payments", "--subject", "pat", "--group", "payments-developers")
    manifest = {"apiVersion": "finplane.io/v1alpha1", "kind": "BusinessCapability",
                "metadata": {"name": "cli-demo", "namespace": "payments"},
                "spec": {"owner": {"team": "payments", "contact": "pay@bank.example"}, "domain": "payments",
                         "image": "registry.finplane.local/payments/cli-demo:1.0.0", "registryRef": "internal"}}
    f = dev.folder / "cli-demo.yaml"
    f.write_text(yaml.safe_dump(manifest))
    assert dev.ok("capabilities", "apply", "-f", str(f), token=pat).strip() == \
        "businesscapability payments/cli-demo created"
    manifest["spec"]["version"] = "1.0.1"
    f.write_text(yaml.safe_dump(manifest))
    assert "configured" in dev.ok("capabilities", "apply", "-f", str(f), token=pat)
    assert dev.json("capabilities", "get", "cli-demo", token=pat)["spec"]["version"] == "1.0.1"
    assert yaml.safe_load(dev.ok("capabilities", "get", "cli-demo", "-o", "yaml", token=pat))["name"] == "cli-demo"
    table = dev.ok("capabilities", "list", token=pat)
    assert "cli-demo" in table and "payments-api" in table
    assert dev.ok("capabilities", "delete", "cli-demo", token=pat).strip() == "businesscapability payments/cli-demo deleted"
    assert "404" in dev.fails(3, "capabilities", "get", "cli-demo", token=pat)
    other = dev.token("--role", "team", "--team", "kyc", "--subject", "kim", "--group", "kyc-developers")
    dev.fails(3, "capabilities", "get", "payments-api", "--team", "payments", token=other)


def test_the_catalog_lists_the_examples_with_their_version(dev: Dev) -> None:
    found = {(e["namespace"], e["name"]): e for e in dev.json("catalog", "search")}
    assert found[("payments", "payments-api")]["version"] == "1.4.2"  # the image tag: no spec.version is set
    assert [e["name"] for e in dev.json("catalog", "search", "--domain", "kyc")] == ["kyc-check"]


def test_a_partner_sandbox_from_request_to_credential_and_extension(dev: Dev) -> None:
    acme = dev.token("--role", "partner", "--partner", "acme", "--subject", "acme-bot")
    dev.fails(2, "sandboxes", "request", "acme--cli", "--organisation", "Acme Ltd", "--contact", "ops@acme.example",
              token=acme)  # the terms are not accepted
    assert dev.json("sandboxes", "request", "acme--cli", "--organisation", "Acme Ltd", "--contact",
                    "ops@acme.example", "--accept-terms", token=acme)["approval"] == "pending"
    assert "403" in dev.fails(4, "sandboxes", "approve", "acme--cli", token=acme)
    assert dev.ok("sandboxes", "approve", "acme--cli", "--comment", "contract 17").startswith("sandbox acme--cli: approved")
    deadline = time.monotonic() + 90
    while dev.json("sandboxes", "get", "acme--cli").get("phase") != "Active":  # the admin's reads consume nothing
        assert time.monotonic() < deadline, "the operator did not provision the sandbox"
        time.sleep(1)
    key = dev.ok("sandboxes", "credential", "acme--cli", token=acme).strip()
    assert len(key) >= 20
    assert "already shown" in dev.fails(5, "sandboxes", "credential", "acme--cli", token=acme)
    dev.ok("sandboxes", "rotate", "acme--cli", token=acme)
    deadline = time.monotonic() + 90
    while (rotated := dev.run("sandboxes", "credential", "acme--cli", token=acme)).returncode in (3, 5):
        assert time.monotonic() < deadline, "the operator did not rotate the credential"
        time.sleep(1)
    assert rotated.returncode == 0 and len(rotated.stdout.strip()) >= 20 and rotated.stdout.strip() != key
    later = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dev.ok("sandboxes", "extend", "acme--cli", "--expires-at", later, "--reason", "pilot extended", token=acme)
    dev.ok("sandboxes", "approve-extension", "acme--cli")
    assert dev.json("sandboxes", "get", "acme--cli", token=acme)["expiresAt"].startswith(later[:16])


def test_a_waiver_needs_an_admin_and_results_preview_and_evidence_come_from_the_api(dev: Dev) -> None:
    pat = dev.token("--role", "team", "--team", "payments", "--subject", "pat", "--group", "payments-developers")
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    waiver = dev.json("compliance", "waivers", "request", "--policy", "baseline", "--rule", "no-latest-tag",
                      "--resource", "BusinessCapability/payments/payments-api", "--justification",
                      "the vendor publishes only latest until Q3", "--risk", "low", "--ticket", "RISK-42",
                      "--expires-at", expires, token=pat)
    assert waiver["state"] == "pending"
    dev.fails(4, "compliance", "waivers", "approve", "baseline", waiver["id"], token=pat)
    dev.ok("compliance", "waivers", "approve", "baseline", waiver["id"])
    assert waiver["id"] in {w["id"] for w in dev.json("compliance", "waivers", "list", "--state", "approved")}
    results = dev.json("compliance", "results", "--result", "fail")
    assert results and {r["result"] for r in results} == {"fail"}
    assert {r["team"] for r in dev.json("compliance", "results", token=pat)} == {"payments"}
    assert dev.json("compliance", "preview", "baseline", "--api")["evaluated"] >= 4
    assert dev.ok("compliance", "evidence", "verify").startswith("OK: ")
    out = dev.folder / "bundle.json"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "chain verified" in dev.ok("compliance", "evidence", "export", "--from", "2020-01-01", "--to", now,
                                      "--out", str(out))
    assert json.loads(out.read_text())["entries"]


# Fields the API server or the operator's bookkeeping set on a child, never the renderer: the only ones a
# live child may have beyond what `finplane render` printed (paths of keys).
# The API server's defaults (Service IPs and affinity, a Deployment's deadline and, when an HPA owns the count,
# replicas; a Namespace's finalizer) are server-set too.
SERVER_SET = {("metadata", "uid"), ("metadata", "resourceVersion"), ("metadata", "creationTimestamp"),
              ("metadata", "generation"), ("metadata", "managedFields"), ("metadata", "ownerReferences"),
              ("metadata", "annotations", HASH_ANNOTATION), ("metadata", "labels", OWNER_LABEL), ("status",),
              ("spec", "clusterIP"), ("spec", "clusterIPs"), ("spec", "sessionAffinity"),
              ("spec", "progressDeadlineSeconds"), ("spec", "replicas"), ("spec", "finalizers")}


def _diff(rendered: Any, live: Any, path: tuple[str, ...] = ()) -> list[str]:
    where = ".".join(path)
    if isinstance(rendered, dict) and isinstance(live, dict):
        out = [f"{where}.{k}: rendered {rendered[k]!r}, not live" for k in rendered if k not in live]
        for k in live.keys() - rendered.keys():
            if (*path, k) in SERVER_SET:
                continue
            if isinstance(live[k], dict):  # a map only the server filled: each of its keys must be server-set
                out += _diff({}, live[k], (*path, k))
            else:
                out.append(f"{where}.{k}: live {live[k]!r}, not rendered")
        for k in rendered.keys() & live.keys():
            out += _diff(rendered[k], live[k], (*path, k))
        return out
    if isinstance(rendered, list) and isinstance(live, list) and len(rendered) == len(live):
        return [d for i, (r, v) in enumerate(zip(rendered, live, strict=True)) for d in _diff(r, v, (*path, str(i)))]
    return [] if rendered == live else [f"{where}: rendered {rendered!r}, live {live!r}"]


def test_render_prints_exactly_what_the_operator_applied_for_every_example(dev: Dev) -> None:
    from finplane.kube.client import Kube

    files = [str(f) for f in sorted((REPO / "examples").glob("*.yaml"))]
    docs = [d for f in files for d in yaml.safe_load_all(Path(f).read_text()) if d]
    # Secrets hold credentials, which render never prints (a registry's pull Secret is shown REDACTED, once)
    rendered = [d for d in yaml.safe_load_all(dev.ok("render", *files)) if d and d["kind"] != "Secret"]

    def ident(o: dict[str, Any]) -> str:
        return f"{o['kind']}/{o['metadata'].get('namespace', '')}/{o['metadata']['name']}"

    async def live() -> tuple[dict[str, Any], set[str]]:
        kube = await Kube.from_config(kubeconfig=str(dev.folder / ".finplane/dev/kubeconfig"))
        try:
            found = {ident(o): await kube.get_or_none(o["apiVersion"], o["kind"], o["metadata"]["name"],
                                                      o["metadata"].get("namespace")) for o in rendered}
            examples = {o["metadata"]["uid"] for d in docs if d["apiVersion"] == "finplane.io/v1alpha1"
                        and (o := await kube.get_or_none(d["apiVersion"], d["kind"], d["metadata"]["name"],
                                                         d["metadata"].get("namespace")))}
            owned = {ident({**c, "kind": kind}) for api_version, kind in {(o["apiVersion"], o["kind"]) for o in rendered}
                     for c in await kube.list(api_version, kind, label_selector=OWNER_LABEL)
                     if c["metadata"]["labels"][OWNER_LABEL] in examples}
            return found, owned
        finally:
            await kube.close()

    found, owned = asyncio.run(live())
    assert len(rendered) > 50 and {o["kind"] for o in rendered} >= {"Deployment", "NetworkPolicy", "Namespace"}
    problems = [f"{i}: rendered, not in the cluster" for i, o in found.items() if o is None]
    problems += [f"{i}: the operator applied it, render did not print it" for i in sorted(owned - set(found))]
    for o in rendered:
        if found[ident(o)] is not None:
            problems += [f"{ident(o)} {d}" for d in _diff(o, found[ident(o)])]
    assert not problems, "\n".join(problems)


RUN = [p for p in DOCS if any(b.not_run is None for b in blocks(p))]


@pytest.mark.parametrize("path", RUN, ids=[p.name for p in RUN])
def test_every_documented_command_runs_as_written_against_finplane_dev(dev: Dev, path: Path) -> None:
    # A file's runnable blocks in one shell, in order, from the dev folder (the repository root, as the docs
    # say); the only stand-in is the reader's kubeconfig, which here is the dev stack's
    result = subprocess.run(["bash", "-c", script(path)], cwd=dev.folder, env=dev.env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if path.name == "platform-api.md":
        section = path.read_text().split("## Walkthrough with curl", 1)[1].split("\n## ", 1)[0]
        assert "8000" not in section and "PORT" not in path.read_text()
        bundle = json.loads((dev.folder / "bundle.json").read_text())
        assert bundle["chainVerified"] and bundle["entries"] and bundle["stateAtTo"]
        assert (dev.folder / "state.csv").read_text().startswith("# chain head ")
        assert "as acme-bot (role partner)" in result.stdout
