# The two set-up commands for a fresh machine are `make run` and `make test`.
# `.venv` holds the app and only what it needs at run time; `.venv-dev` holds the app plus the
# test, lint and benchmark tools (a test-only file keyring among them, which must never be in
# the app's environment: it would store secrets in a plain file).
PYTHON ?= python3
VENV := .venv
DEV := .venv-dev
STAMP := $(VENV)/.installed
DEV_STAMP := $(DEV)/.installed
DEV_PY := $(DEV)/bin/python

.PHONY: run test lint unit peers bench screenshots clean package

$(STAMP): pyproject.toml tools/venv.sh
	PYTHON=$(PYTHON) sh tools/venv.sh $(VENV)
	$(VENV)/bin/python -m pip install --quiet -e '.[studio]'
	@# A .venv made by an older Makefile held the test tools, keyrings.alt among them.
	$(VENV)/bin/python -m pip uninstall --quiet --yes keyrings.alt 2>/dev/null
	touch $(STAMP)

$(DEV_STAMP): pyproject.toml tools/venv.sh
	PYTHON=$(PYTHON) sh tools/venv.sh $(DEV)
	$(DEV_PY) -m pip install --quiet -e '.[studio,test,bench]'
	touch $(DEV_STAMP)

run: $(STAMP)
	$(VENV)/bin/opsflow validate sample_flows/*.flow.json
	$(VENV)/bin/opsflow studio sample_flows/web-outage-remediation.flow.json

lint: $(DEV_STAMP)
	$(DEV)/bin/ruff check src tests benchmarks tools packaging
	$(DEV)/bin/ruff format --check src tests benchmarks tools packaging
	$(DEV)/bin/mypy
	$(DEV)/bin/lint-imports --no-cache

# Programs the tests start as real peers (sshd, Alertmanager, Xvfb, ...): installed when missing.
peers:
	sh tools/test_peers.sh

unit: $(DEV_STAMP) peers
	QT_QPA_PLATFORM=offscreen HYPOTHESIS_PROFILE=ci $(DEV_PY) -m pytest -q -n 2 --dist load

test: lint unit

bench: $(DEV_STAMP)
	$(DEV_PY) benchmarks/run_all.py

screenshots: $(DEV_STAMP)
	QT_QPA_PLATFORM=offscreen $(DEV_PY) tools/screenshots.py

clean:
	rm -rf $(VENV) $(DEV) .pytest_cache .mypy_cache .ruff_cache

# The installable bundle: `make package` builds the one-folder PyInstaller bundle of the Studio
# and the CLI (packaging/dist/opsflow), wraps it as a .deb and a .tar.gz, then tests the result
# (packaging/test_bundle.py). It uses its own virtualenv; see packaging/README.md.
PKG_VENV := packaging/build/venv
PKG_PY := $(PKG_VENV)/bin/python
PKG_STAMP := $(PKG_VENV)/.installed

$(PKG_STAMP): pyproject.toml tools/venv.sh
	PYTHON=$(PYTHON) sh tools/venv.sh $(PKG_VENV)
	$(PKG_PY) -m pip install --quiet 'pyinstaller>=6.10,<7' 'pytest>=8,<10' -e '.[studio]'
	touch $(PKG_STAMP)

package: $(PKG_STAMP)
	rm -rf packaging/dist
	QT_QPA_PLATFORM=offscreen $(PKG_PY) packaging/make_icons.py
	$(PKG_PY) -m PyInstaller --noconfirm --clean --distpath packaging/dist \
		--workpath packaging/build/pyinstaller packaging/opsflow.spec
	$(PKG_PY) packaging/build_deb.py
	$(PKG_PY) -m pytest packaging/test_bundle.py
