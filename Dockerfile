# The operator image the Helm chart runs: `docker build -t neon-operator .` with Docker, or
# `make image` without a daemon (buildah on a locally made Debian bookworm + Python 3.11 base:
# see neon_operator/devstack/image.py). The steps below are the source of truth for both, so they
# work whether the base's Python lives in /usr/local (the official image) or /usr (Debian's).
ARG BASE_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/neon-operator
WORKDIR /src
# The operator's dependencies get their own layer, rebuilt only when pyproject.toml changes.
# Wheels only: the image never needs a compiler.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && /opt/neon-operator/bin/pip install --only-binary=:all: -r requirements.txt
COPY README.md ./
COPY operator operator
COPY emulator emulator
# The wheel carries both packages; the operator image ships the operator alone (the emulator and
# its PostgreSQL data plane are for local stacks and CI, and its extra dependencies stay out).
RUN /opt/neon-operator/bin/pip install --no-deps . \
 && rm -rf /opt/neon-operator/lib/python3.11/site-packages/neon_emulator \
           /opt/neon-operator/bin/neon-emulator \
 && /opt/neon-operator/bin/python -c "import neon_operator.runner" \
 && /opt/neon-operator/bin/python -m pip uninstall --yes --quiet pip setuptools

FROM ${BASE_IMAGE}
# A named account for the uid the chart runs as: kopf asks for the user's name at start
# (getpass.getuser), which fails for a uid without a passwd entry.
RUN groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin nonroot
ENV PATH=/opt/neon-operator/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
ENTRYPOINT ["neon-operator"]
CMD ["run", "--all-namespaces"]
# Last, so a change of the code rebuilds one layer here (COPY ignores USER: files stay root's).
COPY --from=build /opt/neon-operator /opt/neon-operator
