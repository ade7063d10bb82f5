"""A vocoder from outside the package brings its own trainer, and `neuralsynth train` runs it.

The toy distribution below is written to a temporary directory as a real installed
distribution (dist-info with an entry point, see ``make_dist``) and imports only
:mod:`neuralsynth.plugin`, as a plugin author's code would. Its trainer fits a linear
next-frame predictor of the dataset's log mel: small, but a real optimisation on real
audio, checkpointed by neuralsynth's own training loop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.components.test_registry import make_dist

EXE = Path(sys.executable).parent / "neuralsynth"

TOY_SOURCE = """
    import dataclasses

    import numpy as np
    import torch

    from neuralsynth.plugin import (
        TRAIN, VAL, VOCODERS, TrainerBase, Vocoder, istft, lr_schedule, mel_spectrogram,
        mel_to_linear, param, read_audio, read_manifest,
    )


    class ToyVocoder(Vocoder):
        '''Zero-phase inverse STFT of the NNLS magnitude: mel [T, 80] -> wave [T * 128].'''

        trainer = "nsfake_toy:ToyTrainer"

        @dataclasses.dataclass
        class Config:
            width: int = param(80, "mel bands the predictor sees")

        def synthesize(self, mel):
            mag = mel_to_linear(torch.as_tensor(np.asarray(mel, np.float32)))
            spec = torch.polar(mag.float(), torch.zeros_like(mag.float()))
            return istft(spec, length=mel.shape[0] * self.hop_length).numpy()


    class NoTrainer(ToyVocoder):
        trainer = None


    class BadTrainer(ToyVocoder):
        trainer = "nsfake_toy:Missing"


    class Pairs:
        def __init__(self, x, y):
            self.x, self.y = x, y

        def to(self, device):
            return Pairs(self.x.to(device), self.y.to(device))


    class Sampler:
        def __init__(self, x, y, batch, gen):
            self.x, self.y, self.batch, self.gen = x, y, batch, gen

        def sample(self):
            i = torch.randint(0, self.x.shape[0], (self.batch,), generator=self.gen)
            return Pairs(self.x[i], self.y[i])


    def log_mel_pairs(items):
        xs, ys = [], []
        for item in items:
            m = torch.log(mel_spectrogram(read_audio(item.audio)))
            xs.append(m[:-1])
            ys.append(m[1:])
        return torch.cat(xs), torch.cat(ys)


    class ToyTrainer(TrainerBase):
        '''Linear next-frame predictor of log mel: x [B, 80] -> y [B, 80].'''

        def __init__(self, recipe, device, *, progress, say):
            self._begin(recipe, device)
            manifest = read_manifest(recipe.data.dataset)
            use = set(self.instruments)
            train = [it for it in manifest.split(TRAIN) if it.instrument in use]
            val = [it for it in manifest.split(VAL) if it.instrument in use]
            width = recipe.vocoder.get("width", 80)
            self.model = torch.nn.Linear(width, width).to(device)
            self.sampler_gen = torch.Generator().manual_seed(recipe.train.seed)
            self.sampler = Sampler(*log_mel_pairs(train), recipe.train.batch_size,
                                   self.sampler_gen)
            self.val_batches = [Pairs(*log_mel_pairs(val))] if val else []
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.train.lr)
            self.scheduler = lr_schedule(self.optimizer, recipe.train.lr_halve_every)
            name = recipe.vocoder["name"]
            self.providers = {"vocoder": {name: list(VOCODERS.provider(name))}}
            say(f"toy trainer: {self.sampler.x.shape[0]} training frames")

        def _batch_loss(self, batch):
            return torch.mean((self.model(batch.x) - batch.y) ** 2)

        def validate(self):
            if not self.val_batches:
                return None
            with torch.no_grad():
                vb = self.val_batches[0].to(self.device)
                return float(self._batch_loss(vb))
"""


@pytest.fixture(scope="module")
def toy_dist(tmp_path_factory) -> Path:
    return make_dist(tmp_path_factory.mktemp("toy") / "site", "nsfake-toyvocoder", "0.3",
                     {"neuralsynth.vocoders": {"toy_vocoder": "nsfake_toy:ToyVocoder",
                                               "toy_untrainable": "nsfake_toy:NoTrainer",
                                               "toy_bad_trainer": "nsfake_toy:BadTrainer"}},
                     {"nsfake_toy": TOY_SOURCE})


def _recipe(path: Path, dataset: Path, vocoder: str) -> Path:
    path.write_text(f"""\
recipe: 1
data: {{dataset: {dataset}, instruments: [grand_piano, church_organ]}}
vocoder: {{name: {vocoder}}}
train: {{task: vocoder, steps: 60, batch_size: 16, segment_samples: 8192, lr: 0.01,
        lr_halve_every: 0, val_every: 20, checkpoint_every: 20, device: cpu}}
""")
    return path


def _run(args, toy_dist: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(toy_dist), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def test_a_plugin_vocoder_is_trained_by_its_declared_trainer(tmp_path, toy_dist,
                                                             small_dataset):
    recipe = _recipe(tmp_path / "toy.yaml", small_dataset, "toy_vocoder")
    run_dir = tmp_path / "run"
    proc = _run(["train", recipe, "--out", run_dir, "--no-progress"], toy_dist)
    assert proc.returncode == 0, proc.stderr
    assert "toy trainer:" in proc.stderr            # the plugin's trainer ran
    assert "trained to step 60" in proc.stdout

    best = torch.load(run_dir / "best.pt", weights_only=True)
    # The toy's Linear(80, 80), not a WaveNet: the declared trainer made the model.
    assert set(best["model_state"]) == {"weight", "bias"}
    assert best["model_state"]["weight"].shape == (80, 80)
    assert best["providers"] == {"vocoder": {"toy_vocoder": ["nsfake-toyvocoder", "0.3"]}}
    vals = [json.loads(line)["val_loss"] for line in
            (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(vals) >= 3 and vals[-1] < vals[0]   # it learned something

    # `--resume` of the finished run goes through the same trainer and has nothing to do.
    again = _run(["train", recipe, "--out", run_dir, "--resume", "--no-progress"], toy_dist)
    assert again.returncode == 0 and "already complete" in again.stdout


def test_a_vocoder_without_a_trainer_is_refused_by_check(tmp_path, toy_dist, small_dataset):
    recipe = _recipe(tmp_path / "toy.yaml", small_dataset, "toy_untrainable")
    proc = _run(["check", recipe], toy_dist)
    assert proc.returncode == 2
    assert "toy_untrainable declares no trainer" in proc.stderr
    assert "toy_vocoder" in proc.stderr and "wavenet" in proc.stderr   # what is trainable


def test_a_trainer_that_does_not_load_is_one_line(tmp_path, toy_dist, small_dataset):
    recipe = _recipe(tmp_path / "toy.yaml", small_dataset, "toy_bad_trainer")
    proc = _run(["train", recipe, "--out", tmp_path / "run", "--no-progress"], toy_dist)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: vocoder 'toy_bad_trainer' declares trainer "
                           "'nsfake_toy:Missing', which cannot be loaded")
    assert not (tmp_path / "run" / "last.pt").exists()
