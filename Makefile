# The two entry points: `make demo` (the main job end to end) and `make test`.
# Both create or reuse .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test lint venv clean android-check

$(STAMP): pyproject.toml
	# a venv cut short (no python or no pip in it) is made again
	$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,torch,qat]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m tsm_tf.demo --out runs/demo

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest

# The Android app without a device: JUnit tests of its JVM logic, golden conformance with the
# Python runtime, compilation and resource packaging against the API-23 platform jar (needs a
# JDK, npm kotlin-compiler, Debian junit4 + libhamcrest-java + aapt, and ../shared/android/*.deb;
# .ci/run installs them).
ANDROID_DEBS ?= $(abspath ../shared/android)
android-check: $(STAMP)
	TSM_ANDROID_STRICT=1 ANDROID_DEBS=$(ANDROID_DEBS) $(PY) -m pytest -q -p no:cacheprovider \
		tests/test_android_jvm.py tests/test_android_golden.py

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf runs build *.egg-info
