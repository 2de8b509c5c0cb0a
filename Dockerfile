# syntax=docker/dockerfile:1
# The Finplane image: one image runs the operator (`finplane operator`, the default) and the platform API
# (`finplane api --host 0.0.0.0 --port 8000`). Build: docker build -t finplane:0.1.0 .  (see docs/install.md)
#
# The base is pinned by tag here; production builds should pin it by digest as well, so that a re-pushed
# tag cannot change what is built:  FROM python:3.11.13-slim-bookworm@sha256:<digest>
# (get the digest with `docker buildx imagetools inspect python:3.11.13-slim-bookworm`); Renovate or
# Dependabot keep tag and digest current.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/finplane
# Dependencies first (their layer is reused while only the code changes): the runtime requirements,
# each at the exact version of the lock (which also pins the embedded API server's dependencies for
# `make dev`; they stay out of the image, as do the test tools of requirements-test.lock).
COPY requirements.in requirements.lock ./
RUN /opt/finplane/bin/pip install -r requirements.in -c requirements.lock
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY platform_api/ platform_api/
RUN /opt/finplane/bin/pip install --no-deps . \
    && /opt/finplane/bin/pip uninstall -y pip setuptools

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="finplane" \
      org.opencontainers.image.description="Finplane operator and platform API for financial institutions" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/finplane/finplane" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# No package manager run, no compilers, no pip at run time: the virtual environment is all the image adds.
RUN rm -rf /usr/local/lib/python3.11/site-packages/pip /usr/local/lib/python3.11/site-packages/pip-* \
           /usr/local/bin/pip /usr/local/bin/pip3 /usr/local/bin/pip3.11 \
    && groupadd --system --gid 10001 finplane \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin finplane
COPY --from=build /opt/finplane /opt/finplane
ENV PATH=/opt/finplane/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FINPLANE_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz
# Numeric user, so that Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000 8080 9090
# Docker/Podman only (Kubernetes uses the chart's probes). For the API set
# FINPLANE_HEALTHCHECK_URL=http://127.0.0.1:8000/readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['FINPLANE_HEALTHCHECK_URL'], timeout=4).status == 200 else 1)"]
ENTRYPOINT ["finplane"]
CMD ["operator"]
