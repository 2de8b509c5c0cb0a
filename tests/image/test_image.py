"""The image `make image` builds, run as a container runtime would run it (issue 21, "the image, built").

Covers: the image's config (a numeric non-root user, the `finplane` entrypoint running the operator, no
credentials in its environment, the OCI labels with Finplane's version, /tmp and /var/lib/finplane its only
volumes); `finplane --version` from the image is that version; a process of the image can write nowhere
but its volumes (the root filesystem read-only, as the chart's readOnlyRootFilesystem makes it), not even
its own code; the build's CA secret, pip and the embedded API server are not in the image; the operator
started from the image, as the image's user on the read-only root, reconciles a BusinessCapability of the
embedded API server to Ready; the chart runs the image as the image's user, with a read-only root and a
volume on each place the image writes to.

Everything runs in the sandbox of tests/image/conftest.py (chroot into the image's read-only root). Skipped
where buildah is missing or the tests do not run as root; `make image` installs buildah and debootstrap.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.image.conftest import SKIP_REASON, BuiltImage, image_env, sandboxed
from tests.support import REPO, Cluster, embedded_cluster, free_port, is_ready, wait_for
from tests.support.builders import capability, namespace
from tests.support.chart import find, render

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
              # the first build of a fresh machine: debootstrap and every layer (later builds reuse the cache)
              pytest.mark.timeout(1800)]

VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|API_?KEY|PRIVATE|AWS_", re.I)


def run_in_image(image: BuiltImage, root: Path, stage: Path, argv: list[str], *,
                 user: tuple[int, int] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(sandboxed(image, root, stage, argv, user=user), env=image_env(image),
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_image_runs_the_operator_as_a_numeric_non_root_user_with_no_credentials(built_image: BuiltImage) -> None:
    config = built_image.config
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", str(config["User"])), config["User"]
    assert config["Entrypoint"] == ["finplane"] and config["Cmd"] == ["operator"]
    assert not [name for name in built_image.env if SECRET_NAME.search(name)], built_image.env
    assert built_image.volumes == ["/tmp", "/var/lib/finplane"]
    assert built_image.env["FINPLANE_EVIDENCE_DIR"].startswith("/var/lib/finplane/")
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.title"] == "finplane"
    assert labels["org.opencontainers.image.revision"] not in ("", "unknown")


def test_finplane_version_from_the_image_is_the_labelled_version(built_image: BuiltImage, image_root: Path,
                                                                 tmp_path: Path) -> None:
    cp = run_in_image(built_image, image_root, tmp_path / "stage", [*built_image.config["Entrypoint"], "--version"])
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == f"finplane {built_image.config['Labels']['org.opencontainers.image.version']}"


WRITE_PROBE = """
import errno, sys
for path in sys.argv[1:]:
    try:
        open(path, "w").close()
        print(path, "written")
    except OSError as e:
        print(path, errno.errorcode[e.errno])
"""
# Where an attacker inside the container would write: the code the operator imports, its interpreter, the root.
PROTECTED = ["/opt/finplane/lib/python3.11/site-packages/finplane/__init__.py", "/opt/finplane/bin/finplane",
             "/etc/passwd", "/planted"]


@pytest.mark.parametrize("user", [None, (0, 0)], ids=["image-user", "root"])
def test_a_process_of_the_image_writes_nowhere_but_its_volumes(built_image: BuiltImage, image_root: Path,
                                                               tmp_path: Path, user: tuple[int, int] | None) -> None:
    # Even root inside the container: the root filesystem is read-only, not merely owned by someone else.
    writable = [f"{volume}/probe" for volume in built_image.volumes]
    cp = run_in_image(built_image, image_root, tmp_path / "stage",
                      ["python", "-c", WRITE_PROBE, *PROTECTED, *writable], user=user)
    assert cp.returncode == 0, cp.stderr
    results = dict(line.split() for line in cp.stdout.splitlines())
    assert results == {**{p: "EROFS" for p in PROTECTED}, **{p: "written" for p in writable}}
    assert not (image_root / "planted").exists()


def test_the_build_secret_pip_and_the_embedded_api_server_are_not_in_the_image(image_root: Path) -> None:
    site = image_root / "opt/finplane/lib/python3.11/site-packages"
    assert (site / "finplane").is_dir()  # the right folder is looked at
    assert not (image_root / "run/secrets/pip-ca").exists()
    assert not list(site.glob("finplane_emulator*")) and not list(site.glob("pip"))
    assert not (image_root / "opt/finplane/bin/pip").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = embedded_cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.handle.stop()


def alive(proc: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"the operator exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def test_the_operator_from_the_image_reconciles_a_capability_to_ready_as_its_user_on_a_read_only_root(
        built_image: BuiltImage, image_root: Path, cluster: Cluster, tmp_path: Path) -> None:
    liveness = free_port()
    argv = [*built_image.config["Entrypoint"], *built_image.config["Cmd"], "--standalone",
            "--liveness-port", str(liveness), "--metrics-port", str(free_port())]
    cmd = sandboxed(built_image, image_root, tmp_path / "stage", argv, files={"/tmp/kubeconfig": cluster.kubeconfig})
    log = tmp_path / "operator.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=image_env(built_image, KUBECONFIG="/tmp/kubeconfig"), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: alive(proc, liveness, log), timeout=60, what="the image's operator liveness endpoint")
        # The sandbox execs its way to the operator: this pid is the operator's, as the image's user...
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uid, gid = built_image.uid_gid
        assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
        assert re.search(rf"^Gid:\s+{gid}\s+{gid}\s+{gid}\s+{gid}$", status, re.M), status
        assert re.search(r"^Groups:\s*$", status, re.M), status
        assert b"operator" in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        # ... on a read-only root (its mount table, as the process sees it).
        root_mount = next(line.split() for line in Path(f"/proc/{proc.pid}/mountinfo").read_text().splitlines()
                          if line.split()[4] == "/")
        assert "ro" in root_mount[5].split(","), root_mount

        cluster.apply([namespace("payments"), capability("from-the-image", replicas=1)])
        def ready() -> dict[str, Any] | None:
            o = cluster.get("businesscapability", "from-the-image", "payments")
            return o if is_ready(o) else None

        obj = wait_for(ready, timeout=60, what="payments/from-the-image Ready")
        assert obj is not None and obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
        assert cluster.get("deployment", "from-the-image", "payments") is not None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, log.read_text()[-3000:]


def test_the_charts_pods_run_the_image_as_its_user_with_its_volumes_the_only_writable_places(
        built_image: BuiltImage) -> None:
    uid, gid = built_image.uid_gid
    deployments = find(render({}), "Deployment")
    assert len(deployments) == 2  # the operator and the API
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            context = {**pod["securityContext"], **container["securityContext"]}
            assert (context["runAsUser"], context["runAsGroup"]) == (uid, gid), deployment["metadata"]["name"]
            assert context["readOnlyRootFilesystem"] is True
            # every place the image writes to is a volume of the pod (else it would hit the read-only root)
            mounted = {m["mountPath"] for m in container["volumeMounts"]}
            assert set(built_image.volumes) <= mounted, (deployment["metadata"]["name"], mounted)
            evidence = built_image.env["FINPLANE_EVIDENCE_DIR"]
            assert any(evidence == m or evidence.startswith(f"{m}/") for m in mounted), mounted
