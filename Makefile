# Two commands on a fresh clone: `make demo` and `make test`. Everything else is optional.
PYTHON ?= python3
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Lambda dependencies for the Lambda platform (arm64) and the pinned Lambda runtime's Python version
# (cdk.json roam_emp.lambda_python, not this machine's interpreter), downloaded once so that
# `cdk synth` bundles fully offline (infra/bundling.py; docs/operations.md "Runtime").
WHEELHOUSE := .build/wheelhouse
LAMBDA_PYTHON := $(shell $(PYTHON) -c 'import json; print(json.load(open("cdk.json"))["context"]["roam_emp"].get("lambda_python", "3.11"))')
WHEEL_STAMP := $(WHEELHOUSE)/.stamp-python$(LAMBDA_PYTHON)

.PHONY: install demo local test lint typecheck unit synth deploy bench fuzz wheelhouse clean openapi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[local,cdk,dev]'
	touch $(STAMP)

install: $(STAMP)

node_modules/.stamp: package.json package-lock.json
	npm install --no-audit --no-fund
	touch node_modules/.stamp

$(WHEEL_STAMP): functions/requirements.txt $(STAMP)
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(BIN)/pip download -q -r functions/requirements.txt -d $(WHEELHOUSE) \
	  --only-binary=:all: --platform manylinux2014_aarch64 --implementation cp \
	  --python-version $(LAMBDA_PYTHON)
	touch $(WHEEL_STAMP)

wheelhouse: $(WHEEL_STAMP)

demo: $(STAMP)
	$(BIN)/roam-emp demo

local: $(STAMP)
	$(BIN)/roam-emp local

openapi: $(STAMP)  # docs/openapi/admin.json from the admin handlers (tests fail when it is stale)
	$(BIN)/roam-emp openapi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# node_modules: the CDK CLI and DynamoDB Local (tests/dynamodb_local.py; docs/dynamodb-local.md)
# One worker per core, each test file on one worker (module fixtures such as the CDK synth and
# DynamoDB Local run once per file): ~10 min on 2 cores instead of ~16 one after the other.
unit: $(STAMP) $(WHEEL_STAMP) node_modules/.stamp
	$(BIN)/pytest -q -n auto --dist loadfile

test: lint typecheck unit

synth: $(STAMP) $(WHEEL_STAMP) node_modules/.stamp
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk synth -q
	$(BIN)/cfn-lint cdk.out/*.template.json

deploy: $(STAMP) $(WHEEL_STAMP) node_modules/.stamp
	PATH="$(CURDIR)/$(BIN):$$PATH" npx cdk deploy

bench: $(STAMP)
	$(BIN)/python -m bench

# The OCPI routes' fuzzing with many more examples (FUZZ_EXAMPLES per route): bench/results/fuzz.json
fuzz: $(STAMP)
	$(BIN)/python -m bench fuzz

clean:
	rm -rf $(VENV) .build cdk.out node_modules
