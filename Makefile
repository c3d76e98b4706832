# Obelisk: the two set-up commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run token test unit lint wipe test-deps browser-deps orthanc-deps dicom3tools-deps ohif web deploy package teardown bench add-user lock model-long

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .   # the `obelisk` command (docs/upload.md)
	touch $(STAMP)

install: $(STAMP)

## run: the whole platform on this machine (emulator, API, pollers, web app, OHIF, demo data)
run: install ohif web
	$(PY) -m devstack run

## token: an access token for a demo user, e.g. `make token USER=alice`
token: install
	@$(PY) -m devstack token $(USER)

## test: every test (unit, integration against a real emulator and API, browser), on TEST_WORKERS
## processes (pytest-xdist); each worker has its own stack and gets whole files (docs/testing.md).
## Three on 2 cores: the workers mostly wait on their stacks, which do the CPU work.
TEST_WORKERS ?= 3
test: install test-deps web
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

## bench: Obelisk side by side with Orthanc on this machine (installs Debian's orthanc and
## orthanc-dicomweb; BENCH_QUICK=1 for a smoke run; settings in docs/benchmarks.md); not part of `make test`
bench: install
	$(PY) -m bench
	$(PY) -m bench.stow
	$(PY) -m bench.search

## model-long: the permission model against the stack for 5,000+ random steps (docs/security.md;
## `make test` runs 300 with a fixed seed); MODEL_SURVEY=1 lists every kind of divergence unshrunk
MODEL_SEED ?= 20261206
model-long: install
	MODEL_PROFILE=long $(PY) -m pytest tests/integration/test_permission_model.py -s -p no:cacheprovider --hypothesis-seed=$(MODEL_SEED)

unit: install
	$(PY) -m pytest tests/unit

## lint: ruff, and cfn-lint on the templates that are deployed: resources.yaml (deployed alone by
## `infra.deploy data-plane`) and the assembled package (site.yaml and operations.yaml are fragments of it)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/cfn-lint infra/resources.yaml
	$(PY) -m infra.deploy package --stage $(STAGE) --out build/package >/dev/null && $(VENV)/bin/cfn-lint build/package/sam.yaml

## wipe: forget all local data (.obelisk/)
wipe: install
	$(PY) -m devstack wipe

## web: the web app's static site in web/dist (plain ES modules and CSS, no bundler; `make run`
## writes the local config.json with the emulator's sign-in details when it starts)
web: install
	$(PY) -m web.build --out web/dist

## test-deps: the Debian packages the tests run (Chromium; Orthanc for tests/integration/test_cli_import.py;
## dicom3tools' dciodvfy for tests/unit/test_deidentify.py)
test-deps: browser-deps orthanc-deps dicom3tools-deps

## browser-deps: Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## orthanc-deps: Debian's Orthanc and its DICOMweb plugin, the import test's source (bench/orthanc.py starts it)
orthanc-deps:
	@dpkg -s orthanc orthanc-dicomweb >/dev/null 2>&1 || { \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq orthanc orthanc-dicomweb >/dev/null; }

## dicom3tools-deps: Debian's dicom3tools (dciodvfy checks research albums' copies; docs/research-albums.md)
dicom3tools-deps:
	@command -v dciodvfy >/dev/null 2>&1 || { \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dicom3tools >/dev/null; }

## ohif: the OHIF viewer site (prebuilt @ohif/app from the npm registry, pinned in ohif/ohif.lock.json)
ohif: install
	$(PY) -m devstack.ohif --api-url http://127.0.0.1:3000/api

## deploy: the one stack (functions, API, data, sites, operations), the web app and OHIF, e.g.
## `make deploy STAGE=dev`; options in DEPLOY_ARGS (`--web-domain ...`, docs/deploy.md), kept by later deploys
STAGE ?= dev
DEPLOY_ARGS ?=
deploy: install
	$(PY) -m infra.deploy deploy --stage $(STAGE) $(DEPLOY_ARGS)

## add-user: sign-up is admin-only; e.g. `make add-user STAGE=dev EMAIL=a@b.org NAME="A B"`
add-user: install
	$(PY) -m infra.deploy add-user --stage $(STAGE) --email $(EMAIL) --name "$(NAME)"

## lock: regenerate requirements.lock and requirements-reporting.lock (uv, for the Lambda runtime)
lock: install
	$(PY) -m infra.package lock

## package: one SAM template (chalice package --merge-template) in build/package/
package: install
	$(PY) -m infra.deploy package --stage $(STAGE) --out build/package

## teardown: delete the stack of STAGE (empty the site bucket first; data and logs are retained)
teardown: install
	$(PY) -m infra.deploy teardown --stage $(STAGE)
