# The two set-up commands for a fresh machine are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint unit bench screenshots clean package

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/opsflow validate sample_flows/*.flow.json
	$(VENV)/bin/opsflow studio sample_flows/web-outage-remediation.flow.json

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/ruff format --check src tests benchmarks tools
	$(VENV)/bin/mypy

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

test: lint unit

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) tools/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The installable bundle: `make package` builds the one-folder PyInstaller bundle of the Studio
# and the CLI (packaging/dist/opsflow), wraps it as a .deb and a .tar.gz, then tests the result
# (packaging/test_bundle.py). It uses its own virtualenv; see packaging/README.md.
PKG_VENV := packaging/build/venv
PKG_PY := $(PKG_VENV)/bin/python
PKG_STAMP := $(PKG_VENV)/.installed

$(PKG_STAMP): pyproject.toml
	test -x $(PKG_PY) || $(PYTHON) -m venv $(PKG_VENV)
	$(PKG_PY) -m pip install --quiet --upgrade pip
	$(PKG_PY) -m pip install --quiet 'pyinstaller>=6.10,<7' tzdata 'pytest>=8,<10' -e .
	touch $(PKG_STAMP)

package: $(PKG_STAMP)
	rm -rf packaging/dist
	QT_QPA_PLATFORM=offscreen $(PKG_PY) packaging/make_icons.py
	$(PKG_PY) -m PyInstaller --noconfirm --clean --distpath packaging/dist \
		--workpath packaging/build/pyinstaller packaging/opsflow.spec
	$(PKG_PY) packaging/build_deb.py
	$(PKG_PY) -m pytest packaging/test_bundle.py
