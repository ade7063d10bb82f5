"""Training the WaveNet vocoder (``train.task: vocoder``): crops, recipes, learning, resuming."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.audio.spectral import mel_spectrogram, mu_law_encode, read_audio
from neuralsynth.checkpoint import load_checkpoint, save_checkpoint
from neuralsynth.cli.main import cli
from neuralsynth.data.audio_crops import (
    CropReader,
    CropSampler,
    audio_item,
    fixed_starts,
    validation_crops,
)
from neuralsynth.data.manifest import read_manifest
from neuralsynth.errors import DataError, RecipeError
from neuralsynth.recipe.load import load_recipe, recipe_from_dict
from neuralsynth.training.loop import train
from neuralsynth.vocoders.wavenet import initial_class
from neuralsynth.vocoders.wavenet.checkpoint import load_wavenet
from neuralsynth.vocoders.wavenet.model import mel_input
from tests.conftest import tiny_recipe

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"
SMALL_VOCODER = RECIPES / "wavenet_vocoder_small_cpu.yaml"
UNIFORM_NLL = 5.545  # ln(256): what guessing the class uniformly scores


def vocoder_recipe(dataset: Path, out: Path, *extra: str):
    return load_recipe(SMALL_VOCODER, [f"data.dataset={dataset}", f"train.out={out}", *extra])


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vocoder_run(tmp_path_factory, small_dataset) -> Path:
    """The small vocoder recipe as shipped (100 steps), trained on ``small_dataset``."""
    run = tmp_path_factory.mktemp("vocoder") / "run"
    result = train(vocoder_recipe(small_dataset, run), progress=False)
    assert result.step == 100
    return run


# -- crops ------------------------------------------------------------------------------
def test_crop_classes_and_mel_match_the_whole_file(small_dataset):
    item = read_manifest(small_dataset).items[0]
    audio = audio_item(item.id, item.audio)
    wave = read_audio(item.audio)
    assert audio.n_samples == len(wave)
    whole_mel = mel_input(mel_spectrogram(wave))
    whole_q = mu_law_encode(torch.from_numpy(wave))
    reader, frames = CropReader(256), 16
    last = audio.n_frames - frames
    # File start (no sample before it, STFT reflect padding), near it (context cut at the
    # edge), the middle, and the last crop that fits (reflect padding at the file's end).
    for f0 in (0, 1, 3, 4, 5, last // 2, last - 1, last):
        classes, mel = reader.read(audio, f0, frames)
        assert classes.shape == (frames * HOP_LENGTH + 1,) and classes.dtype == torch.uint8
        prev, target = classes[:-1].long(), classes[1:].long()
        start = f0 * HOP_LENGTH
        assert torch.equal(target, whole_q[start:start + frames * HOP_LENGTH])
        assert torch.equal(prev[1:], target[:-1])                 # prev[t] is target[t-1]
        assert int(prev[0]) == (int(whole_q[start - 1]) if f0 else initial_class(256))
        torch.testing.assert_close(mel, whole_mel[f0:f0 + frames], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="does not fit"):
        reader.read(audio, last + 1, frames)


def test_sampler_is_reproducible_and_skips_short_items(small_dataset):
    items = [audio_item(it.id, it.audio) for it in read_manifest(small_dataset).items]
    reader = CropReader(256)

    def batches(seed):
        sampler = CropSampler(items, 16, 3, torch.Generator().manual_seed(seed), reader)
        return [sampler.sample() for _ in range(3)]

    a, b, c = batches(0), batches(0), batches(1)
    assert all(torch.equal(x.classes, y.classes) and torch.equal(x.mel, y.mel)
               for x, y in zip(a, b))
    assert not all(torch.equal(x.classes, y.classes) for x, y in zip(a, c))
    assert a[0].prev.shape == a[0].target.shape == (3, 16 * HOP_LENGTH)
    assert a[0].mel.shape == (3, 16, 80)
    longest = max(it.n_frames for it in items)
    with pytest.raises(DataError, match="no training item is as long as one crop"):
        CropSampler(items, longest + 1, 2, torch.Generator(), reader)


def test_fixed_validation_crops_are_spread_and_seed_independent(small_dataset):
    items = [audio_item(it.id, it.audio) for it in read_manifest(small_dataset).items]
    item = items[0]
    last = item.n_frames - 16
    assert fixed_starts(item, 16, 4) == [0, round(last / 3), round(2 * last / 3), last]
    assert fixed_starts(item, 16, 1) == [last // 2]
    assert fixed_starts(item, 16, 0) == list(range(0, last + 1, 16))
    assert fixed_starts(item, item.n_frames + 1, 4) == []
    one = validation_crops(items[:2], 16, 3, 4, CropReader(256))
    two = validation_crops(items[:2], 16, 3, 4, CropReader(256))
    assert [b.classes.shape[0] for b in one] == [4, 2]          # 6 crops in batches of 4
    assert all(torch.equal(x.classes, y.classes) for x, y in zip(one, two))


# -- recipes ----------------------------------------------------------------------------
@pytest.mark.parametrize("name, summary", [
    ("wavenet_vocoder", "vocoder wavenet (20 layers, R64 G128 S256), audio of 10 instruments, "
                        "1000000 steps"),
    ("wavenet_vocoder_cpu", "vocoder wavenet (20 layers, R32 G64 S128), audio of 10 "
                            "instruments, 12000 steps"),
    ("wavenet_vocoder_small_cpu", "vocoder wavenet (6 layers, R16 G32 S32), audio of 2 "
                                  "instruments, 100 steps"),
])
def test_check_accepts_the_vocoder_recipes(monkeypatch, name, summary):
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["check", f"recipes/{name}.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: recipes/{name}.yaml ({summary})\n"


def test_paper_vocoder_recipe_has_the_paper_values():
    r = load_recipe(RECIPES / "wavenet_vocoder.yaml")
    t, v = r.train, r.vocoder
    assert (t.task, t.lr, t.lr_halve_every, t.steps, t.batch_size, t.segment_samples) == \
        ("vocoder", 0.001, 100000, 1000000, 4, 16384)
    assert (v["name"], v["n_classes"], v["n_layers"], v["dilation_cycle"],
            v["residual_channels"], v["gate_channels"], v["skip_channels"],
            v["upsample_windows"], v["upsample_strides"]) == \
        ("wavenet", 256, 20, 10, 64, 128, 256, [16, 32], [8, 16])
    assert r.model == {} and r.loss == {}
    # Without model and loss sections the resolved recipe still round-trips.
    d = r.to_dict()
    assert "model" not in d and "loss" not in d
    assert recipe_from_dict(d).to_dict() == d


def _problems(path, overrides=()) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides)
    return info.value.problems


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_task_vocoder_needs_a_trainable_vocoder(tmp_path):
    path = _write(tmp_path, f"""\
        recipe: 1
        extends: {SMALL_VOCODER}
        vocoder: {{name: griffin_lim}}
        """)
    assert _problems(path) == [f"{path}:3: vocoder.name: train.task vocoder needs a trainable "
                               "vocoder (wavenet); griffin_lim has no weights to train"]
    # A Mel2Mel recipe (its vocoder section is griffin_lim) switched to the vocoder task.
    paper = RECIPES / "mel2mel_10inst.yaml"
    line = next(i for i, text in enumerate(paper.read_text().splitlines(), 1)
                if text.startswith("vocoder:"))
    assert _problems(paper, ["train.task=vocoder"]) == [
        f"{paper}:{line}: vocoder.name: train.task vocoder needs a trainable vocoder "
        "(wavenet); griffin_lim has no weights to train"]
    # No vocoder section at all: the default is griffin_lim, located at train.task.
    bare = _write(tmp_path, """\
        recipe: 1
        data: {dataset: data/x, instruments: [piano]}
        train:
          task: vocoder
        """)
    assert _problems(bare) == [f"{bare}:4: train.task: task vocoder needs a vocoder section "
                               "naming a trainable vocoder (wavenet); the default, griffin_lim, "
                               "has no weights to train"]


def test_vocoder_segment_must_be_whole_frames_and_task_must_exist():
    assert _problems(SMALL_VOCODER, ["train.segment_samples=2000"]) == [
        "override -o train.segment_samples=2000: train.segment_samples: task vocoder needs a "
        "multiple of 128 samples (whole mel frames), got 2000"]
    # Mel2Mel crops are cut to whole frames, so there any length is accepted.
    assert load_recipe(RECIPES / "mel2mel_small_cpu.yaml",
                       ["train.segment_samples=2000"]).train.segment_samples == 2000
    assert _problems(SMALL_VOCODER, ["train.task=vocodr"]) == [
        "override -o train.task=vocodr: train.task: expected one of 'mel2mel', 'vocoder', "
        "got 'vocodr'"]


def test_mel2mel_task_still_requires_model_and_loss(tmp_path):
    path = _write(tmp_path, """\
        recipe: 1
        data: {dataset: data/x, instruments: [piano]}
        """)
    assert [p.split(": ", 1)[1] for p in _problems(path)] == [
        "model: missing required section (the three model components: encoder, conditioner, "
        "sequence)",
        "loss: missing required section (training loss component)"]


# -- training ---------------------------------------------------------------------------
def test_validation_nll_drops_and_best_loads_with_load_wavenet(vocoder_run):
    records = _metrics(vocoder_run)
    assert [r["step"] for r in records] == [0, 25, 50, 75, 100]
    untrained, *trained = [r["val_loss"] for r in records]
    # An untrained net guesses about uniformly; 100 steps already learn the class
    # distribution and its dependence on the previous sample.
    # (Over seeds 0-5 the best was 0.48-0.67 of the baseline and the last 0.48-0.74.)
    assert untrained == pytest.approx(UNIFORM_NLL, abs=0.15)
    assert min(trained) < 0.8 * untrained
    assert trained[-1] < 0.85 * untrained

    best = load_checkpoint(vocoder_run / "best.pt")
    assert best["best_val_loss"] == pytest.approx(min(trained))
    assert "optimizer_state" not in best
    assert best["providers"] == {"vocoder": {"wavenet": [
        "neuralsynth", best["providers"]["vocoder"]["wavenet"][1]]}}
    model = load_wavenet(vocoder_run / "best.pt")
    assert (model.config.n_layers, model.config.residual_channels) == (6, 16)
    # The loaded weights score the validation crops exactly as the run did.
    recipe = recipe_from_dict(best["recipe"])
    val = [audio_item(it.id, it.audio) for it in read_manifest(recipe.data.dataset).split("val")]
    batches = validation_crops(val, 16, recipe.train.val_crops, 2, CropReader(256))
    with torch.no_grad():
        nll = [float(torch.nn.functional.cross_entropy(model(b.prev, b.mel), b.target))
               for b in batches]
    n = [b.n_samples for b in batches]
    assert sum(x * k for x, k in zip(nll, n)) / sum(n) == pytest.approx(best["best_val_loss"],
                                                                        rel=1e-5)
    last = load_checkpoint(vocoder_run / "last.pt")
    assert last["step"] == 100 and "rng_state" in last


def test_resumed_vocoder_run_equals_uninterrupted_run(small_dataset, tmp_path):
    common = ("train.val_every=2", "train.checkpoint_every=2", "train.lr_halve_every=3")
    whole = train(vocoder_recipe(small_dataset, tmp_path / "whole", "train.steps=8", *common),
                  progress=False)
    train(vocoder_recipe(small_dataset, tmp_path / "part", "train.steps=4", *common),
          progress=False)
    rest = train(vocoder_recipe(small_dataset, tmp_path / "part", "train.steps=8", *common),
                 resume=True, progress=False)
    assert rest.resumed_from == 4 and rest.step == 8
    assert rest.train_losses == whole.train_losses[4:]
    a = load_checkpoint(whole.last_checkpoint)["model_state"]
    b = load_checkpoint(rest.last_checkpoint)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["val_loss"] for r in _metrics(tmp_path / "part")] == \
        [r["val_loss"] for r in _metrics(tmp_path / "whole")]


def test_crops_longer_than_every_item_are_a_data_error(small_dataset, tmp_path):
    recipe = vocoder_recipe(small_dataset, tmp_path / "run", "train.segment_samples=1280000")
    with pytest.raises(DataError, match="no training item is as long as one crop"):
        train(recipe, progress=False)


def test_train_cli_runs_the_small_vocoder_recipe(small_dataset, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [
        "train", str(SMALL_VOCODER), "--set", f"data.dataset={small_dataset}",
        "--set", "train.steps=6", "--set", "train.val_every=3", "--out", str(out),
        "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "trained to step 6 on cpu; best validation loss " in result.output
    assert load_wavenet(out / "best.pt").config.n_layers == 6
    bad = CliRunner().invoke(cli, ["train", str(SMALL_VOCODER), "--set", "train.task=vocodr"])
    assert bad.exit_code == 2
    assert bad.output.splitlines()[-1].endswith("got 'vocodr'")


def test_mel2mel_run_from_before_train_task_resumes(small_dataset, tmp_path):
    """A last.pt whose recipe predates train.task / train.val_crops still resumes."""
    common = ("train.val_every=2", "train.checkpoint_every=2")
    first = train(tiny_recipe(small_dataset, tmp_path / "run", "train.steps=2", *common),
                  progress=False)
    saved = load_checkpoint(first.last_checkpoint)
    for key in ("task", "val_crops"):
        del saved["recipe"]["train"][key]
    save_checkpoint(first.last_checkpoint, saved)
    rest = train(tiny_recipe(small_dataset, tmp_path / "run", "train.steps=4", *common),
                 resume=True, progress=False)
    assert rest.resumed_from == 2 and rest.step == 4


# -- export -----------------------------------------------------------------------------
def test_export_of_a_vocoder_run_is_slim_and_loads_with_load_wavenet(vocoder_run, tmp_path):
    from neuralsynth.inference.export import EXPORT_KEY, export_model
    from neuralsynth.training.run_state import RESUME_KEYS

    last = load_checkpoint(vocoder_run / "last.pt")
    fp32 = export_model(vocoder_run / "last.pt", tmp_path / "voc.pt")
    fp16 = export_model(vocoder_run / "last.pt", tmp_path / "voc16.pt", half=True,
                        name="tiny-vocoder")
    assert fp32.size_bytes < fp32.source_size_bytes / 2       # no Adam moments
    data = load_checkpoint(fp32.out_path)
    assert not set(RESUME_KEYS) & set(data)
    assert data["step"] == 100 and data[EXPORT_KEY]["source"] == "last.pt"
    assert data["providers"] == last["providers"] and data["recipe"] == last["recipe"]
    assert fp16.name == "tiny-vocoder" and fp16.size_bytes < fp32.size_bytes
    exact, halved = load_wavenet(fp32.out_path), load_wavenet(fp16.out_path)
    for key, value in last["model_state"].items():
        assert torch.equal(exact.state_dict()[key], value)
        got = halved.state_dict()[key]
        assert got.dtype == torch.float32                     # loaded back as float32
        torch.testing.assert_close(got, value, rtol=1e-3, atol=1e-4)
