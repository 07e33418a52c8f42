# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint crds image clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m neon_operator.cli demo

test: lint
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# The operator image from the Dockerfile, without a Docker daemon (buildah); an OCI archive under
# ~/.cache/neon-operator/image-<version>/. Needs root and: apt-get install buildah umoci mmdebstrap
image: $(VENV)/.installed
	$(PY) -m neon_operator.cli dev image

crds: $(VENV)/.installed
	$(PY) -m neon_operator.cli crds --output crds

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
