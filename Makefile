# Two commands set up everything on a fresh machine:
#   make demo   virtualenv + TensorFlow + SEAL build + he-tf, then the main job
#   make test   the same install, then the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := PIP_PROGRESS_BAR=off PIP_DISABLE_PIP_VERSION_CHECK=1 $(PY) -m pip
BUILD_DEPS := $(VENV)/.build-deps

.PHONY: install demo test bench-deps bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The build needs TensorFlow itself (the ops compile against it), so the
# build-system requirements are installed into the venv, then the package
# is built without isolation.
$(BUILD_DEPS): pyproject.toml | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install $$($(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'])")
	touch $@

# he-tf, then the protocol plugins in plugins/ (each its own distribution, found by entry points).
install: $(BUILD_DEPS)
	$(PIP) install --no-build-isolation -e ".[test,fuzz]"
	$(PIP) install --no-build-isolation --no-deps -e plugins/he-tf-simulate

demo: install
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m he_tf demo

test: install
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest

bench-deps: install
	$(PIP) install --no-build-isolation -e ".[test,bench]"

# The op-level benchmark suite, quick profile (under 5 minutes on 2 cores):
# benchmarks/results/<date>-quick.{json,md,png}. `make bench PROFILE=full` for everything.
PROFILE ?= quick
bench: bench-deps
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m benchmarks --profile $(PROFILE)

clean:
	rm -rf build python/he_tf/*.so *.egg-info python/*.egg-info
