# Setup, the main job and the tests, each self-contained on a fresh clone.
#   make demo   - install everything, build a small dataset, train, render the examples
#   make test   - install everything, run the test suite
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SOUNDFONT_LITE := /usr/share/sounds/sf3/MuseScore_General_Lite.sf3
DEMO    := data/demo
OUT     := out

.PHONY: setup sysdeps demo test clean

setup: sysdeps $(STAMP)

# FluidSynth and a General MIDI SoundFont come from Debian; install them only when missing.
sysdeps:
	@if ! command -v fluidsynth >/dev/null 2>&1 || [ ! -f $(SOUNDFONT_LITE) ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "error: need fluidsynth and musescore-general-soundfont-small (run as root or apt-get install them)"; exit 1; fi; \
	  echo "installing fluidsynth and the MuseScore General SoundFont (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth musescore-general-soundfont-small >/dev/null; \
	fi

# torch is pinned through constraints.txt: an unpinned torch pulls several GB of CUDA wheels.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=68" wheel
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation -e ".[dev]"
	touch $(STAMP)

demo: setup
	$(BIN)/python examples/compose.py --out $(DEMO)/midi --count 16 --seed 1 --seconds 20
	$(BIN)/neuralsynth data synth $(DEMO)/midi --instruments piano,organ --out $(DEMO)/dataset
	$(BIN)/neuralsynth train recipes/mel2mel_small_cpu.yaml -o data.dataset=$(DEMO)/dataset --out runs/demo --resume
	@mkdir -p $(OUT)
	@for m in examples/*.mid; do n=$$(basename $$m .mid); \
	  for t in piano organ piano:0.5,organ:0.5; do \
	    f=$(OUT)/$$n-$$(echo $$t | tr ':,' '-_').wav; \
	    $(BIN)/neuralsynth render $$m --model runs/demo/best.pt --timbre $$t -o $$f || exit 1; \
	  done; done
	@echo "example renders are in $(OUT)/:"; ls -1 $(OUT)/*.wav

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO) runs/demo $(OUT) .pytest_cache
