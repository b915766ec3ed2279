# syntax=docker/dockerfile:1
# One image per Coffre service, built from the uv workspace:
#
#   docker build --build-arg SERVICE=auth -t coffre/auth .
#
# SERVICE is a workspace member without its `coffre-` prefix (auth, vault, aggregation, fraud,
# payments, archive, sandbox-bank); the image runs its `coffre-$SERVICE` entry point as uid 10001
# and writes nowhere but /tmp, so it runs with a read-only root filesystem.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- manifests: only what dependency resolution reads, so the dependency layer below stays
# cached until a pyproject.toml or the lock file changes.
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY tools tools
COPY services services
RUN find libs tools services -type f ! -name pyproject.toml -delete

# --- build: resolve from the committed lock, then install the service (non-editable) into /app/.venv.
FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build argument SERVICE is required, e.g. SERVICE=auth" >&2; exit 1; }
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install uv==0.13.8
WORKDIR /src
COPY --from=manifests /src ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --no-install-workspace --package "coffre-${SERVICE}"
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY tools tools
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package "coffre-${SERVICE}" \
    && test -x "/app/.venv/bin/coffre-${SERVICE}"

# --- runtime: the interpreter, the virtual environment, nothing else (no uv, no sources).
FROM ${PYTHON_IMAGE} AS runtime
ARG SERVICE
LABEL org.opencontainers.image.title="coffre-${SERVICE}" \
      org.opencontainers.image.description="Coffre ${SERVICE} service"
# auth verifies SAML signatures with the xmlsec1 binary.
RUN if [ "${SERVICE}" = "auth" ]; then \
      apt-get update && apt-get install -y --no-install-recommends xmlsec1 \
      && rm -rf /var/lib/apt/lists/*; \
    fi
# archive embeds DejaVu Sans in e-mail bodies rendered as PDF/A (else reportlab's own Vera).
RUN if [ "${SERVICE}" = "archive" ]; then \
      apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN groupadd --system --gid 10001 coffre \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin coffre
COPY --from=build /app/.venv /app/.venv
ENV SERVICE=${SERVICE} \
    PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    HTTP_HOST=0.0.0.0 \
    SANDBOX_BANK_HOST=0.0.0.0
WORKDIR /tmp
USER 10001:10001
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('HTTP_PORT') or os.environ.get('SANDBOX_BANK_PORT') or '8000'; urllib.request.urlopen(f'http://127.0.0.1:{port}/health/ready', timeout=3)"]
# Exec form expands no variable, hence the shell; `exec` replaces it, so the service runs as the
# container's main process and receives SIGTERM itself.
CMD ["sh", "-c", "exec \"coffre-${SERVICE}\""]
