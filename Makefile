# Two commands set up everything on a fresh machine:
#   make demo   virtualenv + TensorFlow + SEAL build + he-tf, then the main job
#   make test   the same install, then the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := PIP_PROGRESS_BAR=off PIP_DISABLE_PIP_VERSION_CHECK=1 $(PY) -m pip
BUILD_DEPS := $(VENV)/.build-deps
PEERS := .venv-peers

.PHONY: install demo test bench-deps bench bench-peers bench-cryptonets peer-venvs clean

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
	$(PIP) install --no-build-isolation -e ".[test,fuzz,torch]"
	$(PIP) install --no-build-isolation --no-deps -e plugins/he-tf-simulate

demo: install
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m he_tf demo

# TenSEAL's virtualenv (.venv-peers/tenseal, below) for tests/test_tenseal_interop.py: TenSEAL runs in
# its own process there, never imported by he-tf's.
test: install $(PEERS)/tenseal/.done
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest

bench-deps: install
	$(PIP) install --no-build-isolation -e ".[test,bench]"

# The op-level benchmark suite, quick profile (under 5 minutes on 2 cores):
# benchmarks/results/<date>-quick.{json,md,png}. `make bench PROFILE=full` for everything.
PROFILE ?= quick
bench: bench-deps $(PEERS)/tenseal/.done
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m benchmarks --profile $(PROFILE)

# he-tf against OpenFHE, tf-shell and TenSEAL on the logistic-inference job, each peer in its own
# virtualenv under .venv-peers/ (OpenFHE's wheel imports only on Python 3.10, tf-shell 0.5.0 needs
# Python 3.11 and TensorFlow 2.20 beside it), then the run: benchmarks/results/peers-<date>.{json,md,png}.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
PYTHON310 ?= $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python)))
PYTHON311 ?= $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.11.*/bin/python)))
$(PEERS)/openfhe/.done:
	$(PYTHON310) -m venv $(PEERS)/openfhe
	$(PEERS)/openfhe/bin/pip install -q "openfhe==1.6.1.0.22.4" numpy
	touch $@
$(PEERS)/tfshell/.done:
	$(PYTHON311) -m venv $(PEERS)/tfshell
	$(PEERS)/tfshell/bin/pip install -q "tensorflow==2.20.0" numpy
	$(PEERS)/tfshell/bin/pip install -q --no-deps "tf-shell==0.5.0"
	touch $@
$(PEERS)/tenseal/.done:
	$(PYTHON311) -m venv $(PEERS)/tenseal
	$(PEERS)/tenseal/bin/pip install -q "tenseal==0.3.18" numpy
	touch $@
peer-venvs: $(PEERS)/openfhe/.done $(PEERS)/tfshell/.done $(PEERS)/tenseal/.done
bench-peers: bench-deps peer-venvs
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m benchmarks.peers
# CryptoNets in batch layout against TenSEAL's im2col way (about 10 minutes on 2 cores, 9 GB of memory):
# benchmarks/results/cryptonets.{json,md,png}.
bench-cryptonets: bench-deps $(PEERS)/tenseal/.done
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m benchmarks.cryptonets

clean:
	rm -rf build python/he_tf/*.so *.egg-info python/*.egg-info
