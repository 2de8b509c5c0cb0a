#!/usr/bin/env bash
# `make image`: builds the repository's Dockerfile with buildah (chroot isolation: no container runtime or
# daemon needed) into buildah's local storage as localhost/finplane:<version of pyproject.toml>.
# The base is the local Debian image image/base.sh makes (no registry needed); IMAGE_BASE=<image> builds on
# another base instead, e.g. IMAGE_BASE=python:3.11.13-slim-bookworm where a registry is reachable.
# Layers are cached (--layers): a rebuild after a code change reruns only the steps from the code on.
# Called by the Makefile; tests/image/test_image.py runs the image it builds.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v buildah >/dev/null || { echo "buildah is not installed (Debian: apt-get install buildah debootstrap)" >&2; exit 1; }
start=$SECONDS
if [ -n "${IMAGE_BASE:-}" ]; then
  base=$IMAGE_BASE
else
  base=$(bash image/base.sh | tee /dev/stderr | tail -1)
fi
version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
name=${IMAGE_NAME:-localhost/finplane:$version}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
# The CA bundle pip trusts here (a TLS-inspecting proxy's CA included): a build secret, in no layer of the image.
ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
secret=()
[ -s "$ca" ] && secret=(--secret "id=pip-ca,src=$ca")

echo "==> buildah bud $name on $base"
built=$SECONDS
# Docker format: the OCI format has no HEALTHCHECK. The labels are the OCI annotation keys either way; the
# build-dependent ones are given again as --label, since buildah 1.28 reuses a cached LABEL step whose build
# arguments changed (the image would carry the previous build's revision and date).
buildah bud --isolation chroot --layers --format docker --quiet \
  --build-arg "PYTHON_IMAGE=$base" --build-arg "VERSION=$version" \
  --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
  --label "org.opencontainers.image.version=$version" --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$created" --label "org.opencontainers.image.base.name=$base" \
  "${secret[@]}" -t "$name" . >/dev/null
echo "==> built $name in $((SECONDS - built)) s ($((SECONDS - start)) s with the base)"
buildah images --format '{{.Name}}:{{.Tag}} {{.ID}} {{.Size}}' "$name"
