# syntax=docker/dockerfile:1
# The Finplane image: one image runs the operator (`finplane operator`, the default) and the platform API
# (`finplane api --host 0.0.0.0 --port 8000`). Build: `make image` (buildah, on a Debian base it makes itself),
# or docker build -t finplane:0.1.0 .  (see docs/install.md)
#
# Two kinds of base work: an image with Python (the default, pulled from a registry), or a plain Debian of the
# same release, to which both stages add Debian's python3 (what `make image` does with the base it makes by
# debootstrap when no registry is reachable: --build-arg PYTHON_IMAGE=localhost/finplane-base:bookworm).
# The base is pinned by tag here; production builds should pin it by digest as well, so that a re-pushed
# tag cannot change what is built:  FROM python:3.11.13-slim-bookworm@sha256:<digest>
# (get the digest with `docker buildx imagetools inspect python:3.11.13-slim-bookworm`); Renovate or
# Dependabot keep tag and digest current.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
SHELL ["/bin/sh", "-eu", "-c"]
# A plain Debian base: its python3 and venv (bookworm's python3 is 3.11), package lists dropped again.
RUN if ! command -v python3 >/dev/null; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 >/dev/null \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/finplane
WORKDIR /src
# Dependencies first (their layer is reused while only the code changes): the runtime requirements,
# each at the exact version of the lock (which also pins the embedded API server's dependencies for
# `make dev`; they stay out of the image, as do the test tools of requirements-test.lock).
COPY requirements.in requirements.lock ./
# Where a TLS-inspecting proxy stands between the build and the package index, its CA bundle comes in as the
# build secret pip-ca (`make image` passes this machine's): mounted for this step only, never in a layer.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/finplane/bin/pip install --quiet --only-binary=:all: -r requirements.in -c requirements.lock
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY platform_api/ platform_api/
# The finplane wheel, installed without dependencies (they are all above), then pip goes.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/finplane/bin/pip wheel --quiet --no-deps -w /wheels . \
    && /opt/finplane/bin/pip install --quiet --no-deps /wheels/finplane-*.whl \
    && /opt/finplane/bin/pip check \
    && /opt/finplane/bin/pip uninstall --quiet -y pip setuptools

FROM ${PYTHON_IMAGE}
SHELL ["/bin/sh", "-eu", "-c"]
# No package manager run at run time, no compilers, no pip: Python (Debian's, on a plain Debian base), the
# user, the two writable folders (/tmp, and /var/lib/finplane for the evidence record) and the environment.
RUN if ! command -v python3 >/dev/null; then \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3=3.11.2-1+b1 >/dev/null \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log; \
    fi \
    && rm -rf /usr/local/lib/python3.11/site-packages/pip /usr/local/lib/python3.11/site-packages/pip-* \
              /usr/local/bin/pip /usr/local/bin/pip3 /usr/local/bin/pip3.11 \
    && groupadd --system --gid 10001 finplane \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin finplane \
    && mkdir -p /var/lib/finplane/evidence \
    && chown -R 10001:10001 /var/lib/finplane
COPY --from=build /opt/finplane /opt/finplane
ENV PATH=/opt/finplane/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FINPLANE_EVIDENCE_DIR=/var/lib/finplane/evidence \
    FINPLANE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
# The root filesystem can be read-only (the chart's readOnlyRootFilesystem): these are all Finplane writes to.
VOLUME ["/tmp", "/var/lib/finplane"]
WORKDIR /var/lib/finplane
# Numeric user, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000 8080 9090
# Docker/Podman only (Kubernetes uses the chart's probes). For the API set
# FINPLANE_HEALTHCHECK_URL=http://127.0.0.1:8000/readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['FINPLANE_HEALTHCHECK_URL'], timeout=4).status == 200 else 1)"]
ENTRYPOINT ["finplane"]
CMD ["operator"]
# The metadata last: a new revision or build time reruns no step above (their cached layers are reused).
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.title="finplane" \
      org.opencontainers.image.description="Finplane operator and platform API for financial institutions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/finplane/finplane" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
