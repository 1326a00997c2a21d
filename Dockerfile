# syntax=docker/dockerfile:1
# One image for every role of the deployment (deploy/README.md): the code location gRPC server (the
# default command), the webserver, the daemon and the one-shot migrations. From the repository root:
#   docker build -t ai-trader-assets .

ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    AI_TRADER_HOME=/var/lib/ai_trader \
    AI_TRADER_CONFIG_DIR=/opt/dagster/app/config

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it and named volumes keep their owner.
RUN groupadd --system --gid 10001 dagster \
 && useradd --system --uid 10001 --gid dagster --no-create-home --home-dir /opt/dagster \
      --shell /usr/sbin/nologin dagster \
 && python -m venv /opt/venv

# The project runs from its own folder, installed editable: the code location is a dg project
# (dg.load_from_defs_folder reads pyproject.toml's [tool.dg] at run time) and the package finds
# config/ and migrations/ beside itself (REPO_ROOT in ai_trader_assets/config/base.py). A regular install
# into site-packages would have neither.
WORKDIR /opt/dagster/app
COPY pyproject.toml ./
# Dependencies first, resolved within pyproject.toml's ranges, against a placeholder package (and the
# empty README pyproject.toml names), so code and docs edits reuse this slow layer. dagster-k8s is for
# the Helm chart: its K8sRunLauncher is loaded by every process that reads the instance, run pods
# included; same 0.29 line as dagster-postgres in pyproject.toml (test_deployment.py checks it).
RUN mkdir ai_trader_assets \
 && touch README.md ai_trader_assets/__init__.py \
 && pip install -e . "dagster-k8s>=0.29,<0.30"
COPY ai_trader_assets ./ai_trader_assets
COPY config ./config
COPY migrations ./migrations
COPY alembic.ini ./alembic.ini
COPY deploy/workspace.docker.yaml ./workspace.docker.yaml
# The production instance (PostgreSQL through the DAGSTER_PG_* variables), read-only for the app user.
COPY dagster.yaml /opt/dagster/dagster_home/dagster.yaml
# Bytecode now, as the app user cannot write it later (every run is a fresh process). DAGSTER_HOME/storage
# holds compute logs; AI_TRADER_HOME the rate-limit state and the local lake.
RUN python -m compileall -q ai_trader_assets \
 && mkdir -p /opt/dagster/dagster_home/storage /var/lib/ai_trader/lake \
 && chown dagster:dagster /opt/dagster/dagster_home /opt/dagster/dagster_home/storage \
 && chown -R dagster:dagster /var/lib/ai_trader

USER 10001:10001
# 4000: the code location gRPC server; 3000: the webserver, 9464: ai-trader metrics serve, when the
# image runs that role.
EXPOSE 4000 3000 9464
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", \
     "-m", "ai_trader_assets.definitions", "--location-name", "ai_trader_assets"]
