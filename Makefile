# linrep-edge: the two commands of the README, and the pieces they are made of.
#   make demo   set everything up, pack the embedded default model, report it, verify it through C
#   make test   set everything up and run every test (Python + C)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
CLI    := $(VENV)/bin/linrep-edge
STAMP  := $(VENV)/.installed

.PHONY: help setup apt demo test test-py test-c bench schema clean

help:
	@echo "make demo    - set up, compress the default model, fine-tune, report"
	@echo "make test    - set up and run all tests"
	@echo "make bench   - run the benchmarks (accuracy table, clustering speed)"
	@echo "make schema  - regenerate code from linrep_edge/schema/lre.fbs"
	@echo "make setup   - create $(VENV), install torch==2.13.0 (CPU) and the package"

# Debian packages: data set, flatc, the ARM toolchain and QEMU. Skipped (with a note) without root/apt.
APT_PKGS := dataset-fashion-mnist flatbuffers-compiler gcc-arm-none-eabi libnewlib-arm-none-eabi \
            binutils-arm-none-eabi qemu-system-arm
apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "note: missing Debian packages (install as root): apt-get install $$missing" >&2; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	touch $@

setup: apt $(STAMP)

demo: setup
	$(CLI) demo

test: setup
	$(PY) -m pytest -q

bench: setup
	$(CLI) bench cluster
	$(CLI) bench accuracy

schema: setup
	$(PY) tools/gen_schema.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
