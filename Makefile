# Setup, the main job and the tests, each self-contained on a fresh clone.
#   make demo    - install everything, render the bundled examples with the bundled model
#   make test    - install everything, run the test suite
#   make model   - rebuild the bundled model from scratch: corpus -> dataset -> train -> export
#   make vocoder - train the CPU-scale WaveNet vocoder on that dataset, export vocoder.pt
#   make model-gm100 - rebuild the bundled 100-instrument model (gm100) from scratch
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SOUNDFONT_LITE := /usr/share/sounds/sf3/MuseScore_General_Lite.sf3
SOUNDFONT_FULL := /usr/share/sounds/sf3/MuseScore_General_Full.sf3
EXAMPLES := neuralsynth/assets/examples
OUT     := out
CORPUS  := data/corpus
DATA10  := data/10inst
RUN10   := runs/mel2mel_10inst_cpu
CORPUS100 := data/corpus100
DATA100 := data/gm100
RUN100  := runs/mel2mel_100inst_cpu

.PHONY: setup sysdeps sysdeps-full sysdeps-browser demo test model model-gm100 clean vocoder

setup: sysdeps $(STAMP)

# FluidSynth and a General MIDI SoundFont come from Debian; install them only when missing.
# The tests render with the small (lossy) MuseScore font.
sysdeps:
	@if ! command -v fluidsynth >/dev/null 2>&1 || [ ! -f $(SOUNDFONT_LITE) ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "error: need fluidsynth and musescore-general-soundfont-small (run as root or apt-get install them)"; exit 1; fi; \
	  echo "installing fluidsynth and the MuseScore General SoundFont (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fluidsynth musescore-general-soundfont-small >/dev/null; \
	fi

# The explorer's browser test drives Debian's Chromium through its own chromedriver
# (given to selenium by path, so nothing is downloaded at run time).
sysdeps-browser:
	@if ! command -v chromium >/dev/null 2>&1 || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "note: the browser test will be skipped (needs chromium and chromium-driver; run as root or apt-get install them)"; exit 0; fi; \
	  echo "installing chromium and chromium-driver for the browser test (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# Training data uses the full MuseScore_General font, the one the paper rendered with.
sysdeps-full: sysdeps
	@if [ ! -f $(SOUNDFONT_FULL) ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "error: need musescore-general-soundfont (run as root or apt-get install it)"; exit 1; fi; \
	  echo "installing the full MuseScore General SoundFont (apt-get, 86 MB)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq musescore-general-soundfont >/dev/null; \
	fi

# torch is pinned through constraints.txt: an unpinned torch pulls several GB of CUDA wheels.
# Only the note model inside basic-pitch is used (timbre fit --transcribe, on ONNX
# Runtime); its own requirements would pull TensorFlow, so it is installed without them.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=77" wheel
	$(BIN)/python -m pip install -q -c constraints.txt --no-build-isolation -e ".[dev]"
	$(BIN)/python -m pip install -q -c constraints.txt --no-deps basic-pitch
	touch $(STAMP)

# The main job: each bundled étude as piano, organ, trumpet, a 30/70 piano-organ mix
# and a morph from piano to organ, with the bundled default model and Griffin-Lim; the
# multi-track quartet with a timbre per track, by General MIDI program and by rules.
demo: setup
	@mkdir -p $(OUT)
	@$(BIN)/neuralsynth render $(EXAMPLES)/quartet.mid --gm -o $(OUT)/quartet-gm.wav --quiet
	@echo "  $(OUT)/quartet-gm.wav  (--gm: a timbre per track by its GM program)"
	@$(BIN)/neuralsynth render $(EXAMPLES)/quartet.mid --track Piano=organ \
	  --track program:32-39=pizzicato_strings --timbre trumpet -o $(OUT)/quartet-rules.wav --quiet
	@echo "  $(OUT)/quartet-rules.wav  (--track rules, trumpet for the rest)"
	@for m in $(EXAMPLES)/etude_*.mid; do n=$$(basename $$m .mid); \
	  for t in piano organ trumpet piano:0.3,organ:0.7 piano@0s,organ@20s; do \
	    f=$(OUT)/$$n-$$(echo $$t | tr ':,@' '-_-').wav; \
	    $(BIN)/neuralsynth render $$m --timbre $$t -o $$f --quiet || exit 1; \
	    echo "  $$f  ($$t)"; \
	  done; done
	@echo "the example renders are in $(abspath $(OUT))/"

test: setup sysdeps-browser
	$(BIN)/python -m pytest -q

# How the bundled model was made (about 2 h on a 2-core CPU; see docs/default_model.md).
model: setup sysdeps-full
	$(BIN)/neuralsynth data corpus --hours 10.5 --timeout 60 --out $(CORPUS)
	$(BIN)/neuralsynth data synth $(CORPUS) --instruments paper --val-fraction 0.1 \
	  --soundfont $(SOUNDFONT_FULL) --out $(DATA10)
	$(BIN)/neuralsynth train recipes/mel2mel_10inst_cpu.yaml --set data.dataset=$(DATA10) --resume
	$(BIN)/neuralsynth export $(RUN10)/best.pt -o neuralsynth/assets/models/default.pt --half \
	  --name mel2mel_10inst_cpu

# How the bundled gm100 model was made (about 1.5 h on a 2-core CPU; see docs/gm100.md):
# 0.8 h of music rendered as each of 100 GM programs with the default (small) font.
model-gm100: setup
	$(BIN)/neuralsynth data corpus --hours 0.8 --max-minutes 3 --out $(CORPUS100)
	$(BIN)/neuralsynth data synth $(CORPUS100) --instruments gm100 --val-fraction 0.1 \
	  --soundfont $(SOUNDFONT_LITE) --out $(DATA100)
	$(BIN)/neuralsynth train recipes/mel2mel_100inst_cpu.yaml --set data.dataset=$(DATA100) --resume
	$(BIN)/neuralsynth export $(RUN100)/best.pt -o neuralsynth/assets/models/gm100.pt --half \
	  --name mel2mel_100inst_cpu

# The CPU-scale WaveNet vocoder on the same dataset (about 45 min; see docs/vocoder.md).
# Render with it: neuralsynth render song.mid -o song.wav --vocoder-model vocoder.pt
vocoder: setup
	@test -f $(DATA10)/manifest.json || { echo "error: $(DATA10) missing; run make model first"; exit 1; }
	$(BIN)/neuralsynth train recipes/wavenet_vocoder_cpu.yaml --set data.dataset=$(DATA10) --resume
	$(BIN)/neuralsynth export runs/wavenet_vocoder_cpu/best.pt -o vocoder.pt

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
