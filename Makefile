# The two commands of the README: `make run` and `make test`. Everything else serves them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
CONFIG ?= configs/default.toml

.PHONY: run test lint bench models image image-test clean help

help:
	@echo "make run         set up .venv and play the shipped 9d model with the default config"
	@echo "make test        set up the test environment and run lint and the test suite"
	@echo "make bench       print the speed and memory figures (bench/)"
	@echo "make image-test  build an arm64 root with the image stage and boot it in qemu"
	@echo "make image       build the SD-card image with pi-gen (needs the Raspberry Pi archive)"

# The runtime alone, as on the Pi: no TensorFlow.
$(BIN)/impsy: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "IMPSY needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e .
	@touch $@

run: $(BIN)/impsy
	$(BIN)/impsy run --config $(CONFIG)

# The test environment adds the training package (numpy only), the test tools and a browser.
$(VENV)/.test-ready: $(BIN)/impsy train/pyproject.toml pyproject.toml
	$(PIP) install -e '.[test]' -e ./train
	@command -v chromium >/dev/null || ./tests/install-browser.sh
	@touch $@

lint: $(VENV)/.test-ready
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

bench: $(VENV)/.test-ready
	$(BIN)/python bench/model_step.py
	$(BIN)/python bench/runtime_loop.py
	$(BIN)/python bench/liveliness.py --models 9 --hour
	$(BIN)/python bench/liveliness.py --models 4 --hour --no-one-at-a-time

# Retrain the shipped models from the real logs in ../shared/data (about a minute of CPU each).
models: $(VENV)/.test-ready
	./models/train-shipped.sh

image-test:
	./image/tests/run.sh

image:
	./image/build.sh

clean:
	rm -rf $(VENV) build *.egg-info train/*.egg-info .pytest_cache .ruff_cache
