# Set-up, the main job and the tests. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
APT_PACKAGES := bubblewrap util-linux python3-venv python3-pip chromium chromium-driver
COLLECTION := collections/ansible_collections/pyti/core

.PHONY: setup system-packages run test lint unit integration molecule clean

setup: system-packages $(VENV)/.installed

# Debian packages: bubblewrap makes the VMs, setpriv (util-linux) drops their uid,
# chromium and its driver check the HTML report in a real browser.
system-packages:
	@if ! command -v bwrap >/dev/null || ! command -v setpriv >/dev/null \
	    || ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null \
	    || ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  echo "Installing Debian packages: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

run: setup
	ansible-playbook playbooks/run_tests.yml

# pytest runs last so that its closing line is the last word of the log.
test: setup lint molecule
	pytest -q


lint: setup
	ruff check .
	ruff format --check .

unit: setup
	pytest -q $(COLLECTION)/tests/unit

integration: setup
	pytest -q tests/integration

molecule: setup
	molecule test -s default

clean:
	rm -rf $(VENV) .cache reports .pytest_cache .ruff_cache
