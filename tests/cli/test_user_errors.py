"""`finplane` as a newcomer mistypes it: one line with a hint on stderr, a meaningful exit code, no traceback.

Covers: `render -f` given a folder, a missing file, YAML that does not parse and an invalid spec (exit 2,
naming the file and the object); `token --role root` and a team token without a team are refused
before anything is minted (exit 2, the roles listed); a client command with no API configured says how
to log in (exit 4) and one pointed at a port where nothing listens says it cannot reach it (exit 6);
`finplane --version` prints the installed version.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.ports import free_port


def finplane(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINPLANE_")}
    env.update({"HOME": str(home), "FINPLANE_API_DEV_KEY_DIR": str(home / "keys"), "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "finplane", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def user(tmp_path: Path) -> tuple[Path, Path]:
    """A working folder with no `finplane dev` state and a home with no login."""
    (tmp_path / "work").mkdir()
    (tmp_path / "home").mkdir()
    return tmp_path / "work", tmp_path / "home"


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("finplane: error: ") and "(hint: " in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0]


def test_render_of_a_folder_names_it_and_suggests_a_file_in_it(user: tuple[Path, Path]) -> None:
    result = finplane("render", "-f", str(REPO / "examples"), cwd=user[0], home=user[1])
    assert_one_line(result, 2, "is a folder", "examples/")


def test_render_of_a_missing_file_says_so(user: tuple[Path, Path]) -> None:
    result = finplane("render", "-f", "nope.yaml", cwd=user[0], home=user[1])
    assert_one_line(result, 2, "nope.yaml: no such file")


def test_render_of_yaml_that_does_not_parse_gives_the_line(user: tuple[Path, Path]) -> None:
    (user[0] / "broken.yaml").write_text("kind: BusinessCapability\nspec: {image: [\n")
    result = finplane("render", "-f", "broken.yaml", cwd=user[0], home=user[1])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("finplane: error: broken.yaml: not valid YAML at line ")


def test_render_of_an_invalid_spec_names_the_object_and_the_field(user: tuple[Path, Path]) -> None:
    (user[0] / "bad.yaml").write_text("apiVersion: finplane.io/v1alpha1\nkind: BusinessCapability\n"
                                      "metadata: {name: broken, namespace: payments}\nspec: {replicas: many}\n")
    result = finplane("render", "-f", "bad.yaml", cwd=user[0], home=user[1])
    assert_one_line(result, 2, "BusinessCapability broken", "replicas")


def test_a_token_for_a_role_the_api_does_not_know_is_refused_before_minting(user: tuple[Path, Path]) -> None:
    result = finplane("token", "--role", "root", cwd=user[0], home=user[1])
    assert_one_line(result, 2, "--role root", "team, partner, auditor, admin")
    assert result.stdout == "" and not (user[1] / "keys").exists()


def test_a_team_token_without_its_team_is_refused(user: tuple[Path, Path]) -> None:
    assert_one_line(finplane("token", "--role", "team", cwd=user[0], home=user[1]), 2, "--team")


def test_a_client_command_without_a_login_says_how_to_log_in(user: tuple[Path, Path]) -> None:
    result = finplane("catalog", "search", cwd=user[0], home=user[1])
    assert_one_line(result, 4, "no platform API configured", "finplane login")


def test_a_client_command_against_nothing_says_it_cannot_reach_the_api(user: tuple[Path, Path]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = finplane("teams", "list", "--url", url, "--token", "x.y.z", cwd=user[0], home=user[1])
    assert_one_line(result, 6, f"cannot reach the platform API at {url}")


def test_version_prints_the_installed_version(user: tuple[Path, Path]) -> None:
    from importlib.metadata import version

    result = finplane("--version", cwd=user[0], home=user[1])
    assert result.returncode == 0 and result.stdout == f"finplane {version('finplane')}\n"
