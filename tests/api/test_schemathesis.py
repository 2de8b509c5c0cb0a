"""Fuzzing the OpenAPI document with schemathesis against the live API process (embedded API
server behind it): no input produces a 500, and every response matches the documented schema
and content type, on every route (preview, evidence export and verification included); and
`finplane evidence verify` still accepts the hash chain after every change the fuzzer attempted.
Runs the schemathesis CLI as a user would; prints its summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("api-fuzz")]


@pytest.mark.parametrize("role", [{"role": "admin", "subject": "fuzzy-admin"},
                                  {"role": "partner", "partner": "acme", "subject": "fuzzy-partner"}],
                         ids=["as-admin", "as-partner"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(stack, role):
    stack.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "payments"}})
    token = stack.headers(**role, ttl=3600)["Authorization"]
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", f"{stack.url}/api/v1/openapi.json",
           "--header", f"Authorization: {token}", "--max-examples", "4", "--seed", "7",
           "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
           "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all", "--no-color"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    print(out.stdout[-3000:])
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    import os
    verify = subprocess.run([sys.executable, "-m", "finplane", "evidence", "verify"], capture_output=True, text=True,
                            env={**os.environ, "FINPLANE_EVIDENCE_DIR": str(stack.evidence_dir)}, check=False)
    assert verify.returncode == 0 and ": OK," in verify.stdout, verify.stdout + verify.stderr
