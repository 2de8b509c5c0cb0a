"""Fixtures of the image tests: the image `make image` builds, its config, its root filesystem, and a sandbox.

`built_image` runs image/build.sh once per module (buildah's layer cache makes a rebuild after no change take
seconds) and reads the image's config with `buildah inspect`; `image_root` mounts the image's root filesystem
(`buildah from` + `buildah mount`). `sandboxed` turns a command of the image into one that runs it as a
container runtime would without one: in its own mount namespace, chrooted into the image's root filesystem
mounted read-only, with a fresh tmpfs on each volume the image declares (its only writable places), /proc
and /dev, as the image's user, in its working directory, with only the image's environment (plus `env`).

The tests skip, with the reason (`SKIP_REASON`), where buildah or debootstrap is not installed or the tests do not run as root (chroot and mounts
need it); `make image` installs buildah and debootstrap.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO

# Why the image tests cannot run here (tests/image/test_image.py skips with it), or None.
SKIP_REASON: str | None = (
    "buildah is not installed (make image installs buildah and debootstrap)" if shutil.which("buildah") is None
    else "debootstrap is not installed (make image installs it): the image's base is made with it"
    if shutil.which("debootstrap") is None and not os.environ.get("IMAGE_BASE")
    else "the image tests chroot into the image and mount its volumes: they need root" if os.geteuid() != 0
    else None)


@dataclass(frozen=True)
class BuiltImage:
    name: str
    config: dict[str, Any]  # the Docker-format config: User, Env, Entrypoint, Cmd, Volumes, WorkingDir, Labels

    @property
    def uid_gid(self) -> tuple[int, int]:
        user, _, group = str(self.config["User"]).partition(":")
        return int(user), int(group or user)

    @property
    def env(self) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.config.get("Env") or [])

    @property
    def volumes(self) -> list[str]:
        return sorted(self.config.get("Volumes") or {})


@pytest.fixture(scope="module")
def built_image() -> BuiltImage:
    """The image `make image` builds (built now, or reused from buildah's layer cache)."""
    cp = subprocess.run(["bash", str(REPO / "image" / "build.sh")], cwd=REPO, capture_output=True, text=True,
                        timeout=1500, check=False)
    assert cp.returncode == 0, f"image/build.sh failed:\n{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}"
    name = cp.stdout.split("==> built ", 1)[1].split()[0]
    inspected = json.loads(subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True,
                                          text=True, timeout=60, check=True).stdout)
    return BuiltImage(name=name, config=dict(inspected["Docker"]["config"]))


@pytest.fixture(scope="module")
def image_root(built_image: BuiltImage) -> Iterator[Path]:
    """The image's root filesystem, mounted (a working container of the image, removed afterwards)."""
    ctr = subprocess.run(["buildah", "from", "--pull=never", built_image.name], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    try:
        root = subprocess.run(["buildah", "mount", ctr], capture_output=True, text=True, timeout=60,
                              check=True).stdout.strip()
        yield Path(root)
    finally:
        subprocess.run(["buildah", "umount", ctr], capture_output=True, timeout=60, check=False)
        subprocess.run(["buildah", "rm", ctr], capture_output=True, timeout=60, check=False)


# Runs in the new mount namespace (util-linux unshare makes its mounts private): the image's root bound onto
# the stage, a tmpfs on each volume, /proc and /dev, files copied in, the stage made read-only, then chroot
# (unshare --root), working directory, group and user (supplementary groups dropped), exec of the command.
_SANDBOX = r"""
set -eu
stage=$1 root=$2 wd=$3 uid=$4 gid=$5 volumes=$6 files=$7; shift 7
mount --bind "$root" "$stage"
for v in $volumes; do
  if [ "$v" = /tmp ]; then mount -t tmpfs -o mode=1777,size=64m tmpfs "$stage$v"
  else mount -t tmpfs -o "uid=$uid,gid=$gid,mode=0750,size=64m" tmpfs "$stage$v"; fi
done
mount -t proc proc "$stage/proc"
mount --rbind /dev "$stage/dev"
for f in $files; do cp "${f#*=}" "$stage${f%%=*}"; chmod 0444 "$stage${f%%=*}"; done
mount -o remount,bind,ro "$stage"
exec unshare --root="$stage" --wd="$wd" --setgid="$gid" --setuid="$uid" -- "$@"
"""


def sandboxed(image: BuiltImage, root: Path, stage: Path, argv: list[str], *, user: tuple[int, int] | None = None,
              files: dict[str, Path] | None = None) -> list[str]:
    """The command running `argv` inside the image as described in the module docstring (`files`: path in the
    image -> file here, copied into a volume before the root is made read-only; `user`: instead of the image's)."""
    stage.mkdir(parents=True, exist_ok=True)
    uid, gid = user or image.uid_gid
    copies = " ".join(f"{inside}={outside}" for inside, outside in (files or {}).items())
    return ["unshare", "--mount", "--", "sh", "-c", _SANDBOX, "sandbox", str(stage), str(root),
            str(image.config.get("WorkingDir") or "/"), str(uid), str(gid), " ".join(image.volumes), copies, *argv]


def image_env(image: BuiltImage, **extra: str) -> dict[str, str]:
    """The environment a container of the image starts with: the image's Env, HOME, and `extra`."""
    return {"HOME": "/nonexistent", **image.env, **extra}
