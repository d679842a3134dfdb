# Set-up, the main job and the tests. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
APT_PACKAGES := bubblewrap util-linux python3-venv python3-pip chromium chromium-driver \
  qemu-system-x86 busybox-static
COLLECTION := collections/ansible_collections/pyti/core
SANITY_PYTHON := 3.11
# The pip version that ansible-test (of the pinned ansible-core) puts in its venvs.
ANSIBLE_TEST_PIP := 24.2
GET_PIP := $(HOME)/.ansible/test/cache/get_pip_$(subst .,_,$(ANSIBLE_TEST_PIP)).py

define GET_PIP_STANDIN
# Stand-in for get-pip.py, written by the PYTI Makefile: bootstrap pip with ensurepip,
# then install what ansible-test asks for (pip==VERSION and its options).
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", *args])
endef
export GET_PIP_STANDIN

.PHONY: setup system-packages run test test-qemu lint sanity unit integration molecule clean

setup: system-packages $(VENV)/.installed

# Debian packages: bubblewrap makes the VMs, setpriv (util-linux) drops their uid,
# chromium and its driver check the HTML report in a real browser, qemu-system-x86 and
# busybox-static make the qemu driver's guests (its kernel is fetched when first used).
system-packages:
	@if ! command -v bwrap >/dev/null || ! command -v setpriv >/dev/null \
	    || ! command -v qemu-system-x86_64 >/dev/null || ! [ -x /bin/busybox ] \
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
test: setup lint sanity molecule
	pytest -q


lint: setup
	ruff check .
	ruff format --check .
	ansible-lint playbooks molecule

# ansible-test sanity runs on a clean copy of the collection: a tests/output or a
# cache left in the work tree would fail its line-ending and symlink tests.
sanity: setup $(GET_PIP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT \
	  && mkdir -p "$$tmp/ansible_collections/pyti/core" \
	  && tar -C $(COLLECTION) --exclude=./tests/output --exclude=__pycache__ \
	    --exclude=.pytest_cache --exclude=.ruff_cache -cf - . | tar -C "$$tmp/ansible_collections/pyti/core" -xf - \
	  && cd "$$tmp/ansible_collections/pyti/core" \
	  && ansible-test sanity --local --python $(SANITY_PYTHON) --requirements --color no $(SANITY_ARGS)

# ansible-test bootstraps pip in its venvs with a script from a host that is not
# reachable here; this stand-in does the same with ensurepip and the package index.
$(GET_PIP): Makefile
	mkdir -p $(dir $@)
	printf '%s\n' "$$GET_PIP_STANDIN" > $@

unit: setup
	pytest -q $(COLLECTION)/tests/unit

integration: setup
	pytest -q tests/integration

# The hostile subset in qemu guests: about six minutes under TCG, so not part of test.
test-qemu: setup
	pytest -q -m qemu_hostile tests/hostile/test_hostile_qemu.py

molecule: setup
	molecule test -s default
	molecule test -s fleet
	molecule test -s qemu

# The fleet scenario starts an sshd of its own per test slave. Debian's ssh service is
# not needed: on a systemd host it is masked while the package installs, then left off.
molecule: ssh-server
.PHONY: ssh-server
ssh-server:
	@if [ ! -x /usr/sbin/sshd ]; then \
	  echo "Installing openssh-server, with its ssh service off"; \
	  systemd=; [ -d /run/systemd/system ] && systemd=yes; \
	  [ -z "$$systemd" ] || systemctl mask ssh.service; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends openssh-server; \
	  [ -z "$$systemd" ] || { systemctl unmask ssh.service && systemctl disable ssh.service; }; \
	fi

clean:
	rm -rf $(VENV) .cache reports .pytest_cache .ruff_cache

# The benchmark, on this machine: writes bench/results/<date>.json and .md and prints the
# table. Not part of `make test`: it takes about ten minutes and needs PyPI for a cold setup.
.PHONY: bench
bench: setup
	python bench/run.py $(BENCH_ARGS)
