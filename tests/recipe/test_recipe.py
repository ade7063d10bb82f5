"""Recipes: the shipped ones, extends, overrides, and every kind of reported problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from neuralsynth.errors import RecipeError
from neuralsynth.midi.instruments import PAPER_INSTRUMENTS
from neuralsynth.recipe.load import Recipe, load_recipe, recipe_from_dict
from neuralsynth.recipe.sections import TrainConfig

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "recipes" / "mel2mel_10inst.yaml"
SMALL = REPO / "recipes" / "mel2mel_small_cpu.yaml"

GOOD = """\
recipe: 1
data:
  dataset: data/x
  instruments: [piano, organ]
model:
  encoder: {name: pianoroll}
  conditioner: {name: film, embedding_dim: 3}
  sequence:
    name: bilstm
    hidden_size: 32
loss: {name: tanh_log_abs_mse}
train:
  steps: 20
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line of ``path`` containing ``needle``."""
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def problems_of(path: Path | str, overrides=()) -> list[str]:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, overrides)
    assert info.value.exit_code == 2
    return info.value.problems


# -- the shipped recipes --------------------------------------------------------------
def test_paper_recipe_has_the_paper_values():
    r = load_recipe(PAPER)
    assert isinstance(r, Recipe) and r.name == "mel2mel_10inst"
    assert r.data.dataset == "data/10inst"
    assert r.data.instruments == PAPER_INSTRUMENTS
    assert r.model["encoder"] == {"name": "pianoroll", "onsets": True, "frames": True}
    assert r.model["conditioner"]["name"] == "film"
    assert r.model["conditioner"]["embedding_dim"] == 2
    seq = r.model["sequence"]
    assert (seq["name"], seq["hidden_size"], seq["num_layers"], seq["bidirectional"]) == \
        ("bilstm", 256, 1, True)
    assert r.loss["name"] == "tanh_log_abs_mse"
    t = r.train
    assert (t.lr, t.lr_halve_every, t.steps, t.batch_size, t.segment_samples) == \
        (0.002, 40000, 100000, 128, 65536)
    assert t.out == "runs/mel2mel_10inst"
    assert r.vocoder["name"] == "griffin_lim"


def test_small_cpu_recipe_extends_the_paper_one_scaled_down():
    r = load_recipe(SMALL)
    assert r.name == "mel2mel_small_cpu"
    assert r.data.dataset == "data/small"
    assert r.data.instruments == ["grand_piano", "church_organ"]
    seq = r.model["sequence"]
    assert seq["hidden_size"] == 64
    assert (seq["name"], seq["num_layers"], seq["bidirectional"]) == ("bilstm", 1, True)
    assert r.model["conditioner"]["embedding_dim"] == 2          # inherited
    assert r.model["encoder"]["onsets"] and r.model["encoder"]["frames"]
    assert r.loss["name"] == "tanh_log_abs_mse"
    t = r.train
    assert (t.lr, t.lr_halve_every, t.steps, t.batch_size, t.segment_samples) == \
        (0.005, 200, 300, 16, 16384)
    assert (t.val_every, t.checkpoint_every) == (50, 50)
    assert t.out == "runs/mel2mel_small_cpu"


def test_to_dict_round_trips_and_fills_defaults():
    r = load_recipe(SMALL)
    d = r.to_dict()
    assert d["train"]["grad_clip"] == 1.0 and d["train"]["device"] == "auto"
    assert d["model"]["sequence"]["conv_kernel"] == 1
    assert "extends" not in d
    again = recipe_from_dict(d)
    assert again.to_dict() == d
    assert again.name == "mel2mel_small_cpu"


def test_aliases_resolve_to_canonical_names_and_1e_minus_3_is_a_float(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD.replace("steps: 20", "steps: 20\n  lr: 1e-3"))
    r = load_recipe(path)
    assert r.data.instruments == ["grand_piano", "church_organ"]
    assert r.train.lr == pytest.approx(0.001) and isinstance(r.train.lr, float)
    assert r.train == TrainConfig(lr=0.001, steps=20, out="runs/r")
    assert r.model["conditioner"]["embedding_dim"] == 3


# -- extends --------------------------------------------------------------------------
def test_extends_deep_merges_child_wins_and_lists_are_replaced(tmp_path):
    write(tmp_path, "base/base.yaml", GOOD + "name: base_run\n")
    child = write(tmp_path, "child.yaml", """\
        extends: base/base.yaml
        data: {instruments: [trumpet]}
        model:
          sequence: {num_layers: 2}
        train: {lr: 0.01}
        """)
    r = load_recipe(child)
    assert r.data.dataset == "data/x" and r.data.instruments == ["trumpet"]
    assert r.model["sequence"]["hidden_size"] == 32 and r.model["sequence"]["num_layers"] == 2
    assert r.train.steps == 20 and r.train.lr == 0.01
    assert r.name == "child"                 # the base's name is not inherited
    assert r.train.out == "runs/child"


def test_extends_chain_and_component_swap_replaces_the_spec(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", "extends: a.yaml\nloss: {name: log_abs_mse}\n")
    c = write(tmp_path, "c.yaml", "extends: b.yaml\ntrain: {steps: 5}\n")
    r = load_recipe(c)
    assert r.loss == {"name": "log_abs_mse"} and r.train.steps == 5


def test_extends_cycle_is_reported(tmp_path):
    write(tmp_path, "a.yaml", "recipe: 1\nextends: b.yaml\n")
    b = write(tmp_path, "b.yaml", "# b\nextends: a.yaml\n")
    [problem] = problems_of(tmp_path / "a.yaml")
    assert problem.startswith(f"{tmp_path / 'b.yaml'}:2: extends: extends cycle: ")
    assert "a.yaml -> b.yaml -> a.yaml" in problem
    assert b.exists()


def test_extends_itself_and_missing_base(tmp_path):
    me = write(tmp_path, "me.yaml", "extends: me.yaml\n")
    assert "extends cycle: me.yaml -> me.yaml" in problems_of(me)[0]
    orphan = write(tmp_path, "orphan.yaml", "recipe: 1\nextends: nowhere.yaml\n")
    [problem] = problems_of(orphan)
    assert problem.startswith(f"{orphan}:2: extends: base recipe 'nowhere.yaml' not found")


def test_problem_in_a_base_is_located_in_the_base_file(tmp_path):
    base = write(tmp_path, "base.yaml", GOOD.replace("hidden_size: 32", "hiden_size: 32"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\ntrain: {steps: 5}\n")
    [problem] = problems_of(child)
    assert problem.startswith(f"{base}:{line_of(base, 'hiden_size')}: "
                              "model.sequence.hiden_size: unknown parameter")


# -- overrides ------------------------------------------------------------------------
def test_overrides_set_scalars_lists_and_new_keys(tmp_path):
    r = load_recipe(SMALL, ["model.sequence.hidden_size=48", "train.steps=10",
                            "data.instruments=[piano,organ,trumpet]",
                            "model.sequence.bidirectional=false", "train.seed=7",
                            "vocoder.n_iter=4"])
    assert r.model["sequence"]["hidden_size"] == 48
    assert r.model["sequence"]["bidirectional"] is False
    assert r.train.steps == 10 and r.train.seed == 7
    assert r.data.instruments == ["grand_piano", "church_organ", "trumpet"]
    assert r.vocoder == {**r.vocoder, "name": "griffin_lim", "n_iter": 4}


def test_override_problems_are_located_at_the_override():
    problems = problems_of(SMALL, ["model.sequence.hiden_size=64", "train.steps=ten",
                                   "train.lr.x=1", "no_equals_sign", "train.steps=[1",
                                   "extends=x.yaml"])
    assert problems[0] == ("override -o model.sequence.hiden_size=64: model.sequence.hiden_size: "
                           "unknown parameter 'hiden_size' (did you mean 'hidden_size'?); "
                           "allowed: bidirectional, conv_kernel, hidden_size, input_relu, "
                           "num_layers")
    assert problems[1].startswith("override -o train.steps=ten: train.steps: expected int, "
                                  "got 'ten' (str)")
    assert problems[2] == ("override -o train.lr.x=1: train.lr: expected a mapping to set 'x' "
                           "in, got 0.005 (float)")
    assert problems[3].startswith("override -o no_equals_sign: expected KEY=VALUE")
    assert problems[4].startswith("override -o train.steps=[1: train.steps: value '[1' is not "
                                  "valid YAML")
    assert problems[5].startswith("override -o extends=x.yaml: extends: extends cannot be")
    # train.steps=[1 is not applied (bad YAML), so train.steps=ten is reported once
    assert len(problems) == 6


# -- every kind of problem, with lines ------------------------------------------------
def test_typo_in_a_parameter_names_the_line_and_suggests(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD.replace("hidden_size: 32", "hiden_size: 32"))
    [problem] = problems_of(path)
    line = line_of(path, "hiden_size")
    assert problem.startswith(f"{path}:{line}: model.sequence.hiden_size: unknown parameter "
                              "'hiden_size' (did you mean 'hidden_size'?); allowed: ")
    assert "num_layers" in problem


def test_all_problems_are_reported_together_in_line_order(tmp_path):
    path = write(tmp_path, "bad.yaml", """\
        recipe: 2
        modle: {}
        data:
          instruments: [piano, grand_piano, pianno, 3]
        model:
          encoder: {name: pianorol}
          conditioner: film
          sequence:
            name: bilstm
            hiden_size: 64
            n_mels: 80
            num_layers: two
        loss: {name: neuralsynth.losses.spectral:AbsMSE}
        train:
          steps: 0
          device: gpu
          stepz: 3
        vocoder: [griffin_lim]
        """)
    problems = problems_of(path)
    expected = [
        ("recipe: 2", "recipe: expected 1 (the recipe format version), got 2 (int)"),
        ("modle:", "modle: unknown section (did you mean 'model'?); allowed: recipe, name, "
                   "extends, data, model, loss, train, vocoder"),
        ("data:", "data.dataset: missing required key"),
        ("instruments:", "data.instruments[1]: duplicate instrument 'grand_piano' (same as "
                         "'piano'): already data.instruments[0]"),
        ("instruments:", "data.instruments[2]: unknown instrument 'pianno' (did you mean "
                         "'piano'?)"),
        ("instruments:", "data.instruments[3]: expected an instrument name (str), got 3 (int)"),
        ("encoder:", "model.encoder.name: unknown encoder 'pianorol' (did you mean "
                     "'pianoroll'?); available: pianoroll"),
        ("conditioner:", "model.conditioner: expected a mapping like {name: ..., param: "
                         "value} naming a registered conditioner, got 'film' (str)"),
        ("hiden_size", "model.sequence.hiden_size: unknown parameter 'hiden_size' (did you "
                       "mean 'hidden_size'?)"),
        ("n_mels", "model.sequence.n_mels: unknown parameter 'n_mels'"),
        ("num_layers", "model.sequence.num_layers: expected int, got 'two' (str)"),
        ("loss:", "loss.name: unknown loss 'neuralsynth.losses.spectral:AbsMSE'; available: "
                  "abs_mse, log_abs_mse, tanh_log_abs_mse; recipes name registered "
                  "components, not import paths"),
        ("steps: 0", "train.steps: expected a value > 0, got 0"),
        ("device", "train.device: expected one of 'auto', 'cpu', 'cuda', got 'gpu'"),
        ("stepz", "train.stepz: unknown parameter 'stepz' (did you mean 'steps'?)"),
        ("vocoder:", "vocoder: expected a mapping like {name: ..., param: value} naming a "
                     "registered vocoder, got a list"),
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for problem, (needle, message) in zip(problems, expected):
        assert problem.startswith(f"{path}:{line_of(path, needle)}: {message}"), problem
    assert "n_mels follows from the other components" in problems[9]


def test_missing_sections_and_keys(tmp_path):
    path = write(tmp_path, "r.yaml", """\
        # only a model, and an incomplete one
        model:
          encoder: {onsets: true}
        """)
    problems = problems_of(path)
    assert problems == [
        f"{path}:2: recipe: missing required section (recipe format version; must be 1)",
        f"{path}:2: data: missing required section (dataset directory and instruments)",
        f"{path}:2: loss: missing required section (training loss component)",
        f"{path}:2: model.conditioner: missing required key; available conditioners: film",
        f"{path}:2: model.sequence: missing required key; available sequences: bilstm",
        f"{path}:3: model.encoder.name: missing required key (which encoder); "
        "available: pianoroll",
    ]


def test_non_mapping_where_a_mapping_is_expected(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD.replace("train:\n  steps: 20", "train: 3")
                 .replace("data:\n  dataset: data/x\n  instruments: [piano, organ]",
                          "data: [data/x]"))
    problems = problems_of(path)
    assert problems == [
        f"{path}:2: data: expected a mapping with dataset and instruments, got a list",
        f"{path}:{line_of(path, 'train: 3')}: train: expected a mapping of training settings, "
        "got 3 (int)",
    ]


def test_top_level_that_is_not_a_mapping_and_empty_file(tmp_path):
    lst = write(tmp_path, "list.yaml", "# header\n- a\n- b\n")
    assert problems_of(lst) == [f"{lst}:2: expected a mapping of sections (recipe, name, "
                                "extends, data, model, loss, train, vocoder), got a list"]
    empty = write(tmp_path, "empty.yaml", "# nothing here\n")
    assert problems_of(empty)[0].startswith(f"{empty}:1: recipe is empty")


def test_yaml_syntax_error_has_file_and_line(tmp_path):
    path = write(tmp_path, "r.yaml", "recipe: 1\ndata:\n  dataset: [unclosed\nmodel: {}\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:4: invalid YAML")


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "r.yaml", "recipe: 1\nname: !!python/object/apply:os.getcwd []\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:2: invalid YAML")
    assert "python/object/apply" in problem


def test_duplicate_keys_are_reported(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD + "train:\n  steps: 5\n")
    [problem] = problems_of(path)
    first = line_of(path, "train:")
    assert problem == (f"{path}:{first + 2}: train: duplicate key (first written at line "
                       f"{first})")


def test_missing_file_and_directory(tmp_path):
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: recipe file "
                                                   "not found"]
    assert "got a directory" in problems_of(tmp_path)[0]


def test_recipe_from_dict_reports_without_lines():
    d = load_recipe(SMALL).to_dict()
    d["train"]["stpes"] = 3
    d["model"]["sequence"]["name"] = "bilstn"
    with pytest.raises(RecipeError) as info:
        recipe_from_dict(d, source="checkpoint.pt")
    assert info.value.problems == [
        "checkpoint.pt: model.sequence.name: unknown sequence 'bilstn' (did you mean "
        "'bilstm'?); available: bilstm",
        "checkpoint.pt: train.stpes: unknown parameter 'stpes' (did you mean 'steps'?); "
        "allowed: batch_size, checkpoint_every, device, grad_clip, lr, lr_halve_every, out, "
        "precision, seed, segment_samples, steps, task, val_crops, val_every, val_pieces",
    ]


def test_bad_name_and_empty_instrument_list(tmp_path):
    path = write(tmp_path, "r.yaml", GOOD.replace("[piano, organ]", "[]") + "name: a/b\n")
    problems = problems_of(path)
    assert problems == [
        f"{path}:4: data.instruments: expected at least one instrument, got an empty list",
        f"{path}:14: name: expected a run name of letters, digits, '_', '-' or '.', "
        "got 'a/b' (str)",
    ]


# -- the reference docs ---------------------------------------------------------------
def test_docs_recipes_md_is_up_to_date():
    from neuralsynth.recipe.docs import render_recipe_reference

    text = render_recipe_reference()
    assert "| `hidden_size` | int | `256` |" in text
    assert "| `lr` | float | `0.002` | Adam learning rate at step 0 |" in text
    committed = (REPO / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert committed == text, "docs/recipes.md is stale: run python -m neuralsynth.recipe.docs"
