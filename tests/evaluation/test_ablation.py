"""Table 3 ablations: the recipes change exactly what they say, the runner trains and tabulates.

The runner (benchmarks/ablation.py) is run in-process on the conftest small dataset with
a tiny model and a few steps: the point is that it trains every chosen variant, reuses
finished runs, and that its figures are the runs' own (not that they are good).
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import pytest

from neuralsynth.recipe.load import load_recipe

REPO = Path(__file__).resolve().parents[2]
ABLATIONS = REPO / "recipes" / "ablations"

#: Every ablation recipe and the resolved keys where it must differ from proposed.yaml,
#: with the value it must have there (the paper's Table 3 rows and the three losses).
EXPECTED_CHANGES = {
    "frames_only": {("model", "encoder", "onsets"): False},
    "onsets_only": {("model", "encoder", "frames"): False},
    "film_first_only": {("model", "conditioner", "sites"): ["pre"]},
    "film_second_only": {("model", "conditioner", "sites"): ["post"]},
    "forward_lstm": {("model", "sequence", "bidirectional"): False},
    "input_relu": {("model", "sequence", "input_relu"): True},
    "conv3x1": {("model", "sequence", "conv_kernel"): 3},
    "conv5x1": {("model", "sequence", "conv_kernel"): 5},
    "lstm_2layer": {("model", "sequence", "num_layers"): 2},
    "loss_abs_mse": {("loss", "name"): "abs_mse"},
    "loss_log_abs_mse": {("loss", "name"): "log_abs_mse"},
    "loss_tanh_log_abs_mse": {},
}
#: Keys that name a run rather than define it.
IDENTITY = {("name",), ("train", "out")}

TINY = ["model.sequence.hidden_size=16", "train.segment_samples=8192", "train.batch_size=4",
        "data.instruments=[grand_piano,church_organ]", "train.lr_halve_every=0",
        "train.val_pieces=0", "train.device=cpu"]


def _flat(d, prefix=()):
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            out.update(_flat(v, prefix + (k,)))
        return out
    return {prefix: d}


def _resolved(name: str) -> dict:
    return _flat(load_recipe(ABLATIONS / f"{name}.yaml").to_dict())


def test_the_recipe_folder_holds_exactly_the_table_rows():
    names = {p.stem for p in ABLATIONS.glob("*.yaml")}
    assert names == {"proposed", *EXPECTED_CHANGES}


def test_proposed_is_the_paper_model():
    r = load_recipe(ABLATIONS / "proposed.yaml")
    assert r.model["encoder"] == {"name": "pianoroll", "onsets": True, "frames": True}
    assert r.model["conditioner"]["sites"] == ["pre", "post"]
    seq = r.model["sequence"]
    assert (seq["hidden_size"], seq["num_layers"], seq["bidirectional"], seq["input_relu"],
            seq["conv_kernel"]) == (256, 1, True, False, 1)
    assert r.loss == {"name": "tanh_log_abs_mse"}
    assert len(r.data.instruments) == 10
    # Every variant gets its own run directory by default.
    assert r.name == "ablation_proposed"


@pytest.mark.parametrize("variant", sorted(EXPECTED_CHANGES))
def test_each_variant_changes_only_its_key(variant):
    base, mine = _resolved("proposed"), _resolved(variant)
    differ = {k for k in set(base) | set(mine)
              if base.get(k, "<absent>") != mine.get(k, "<absent>")}
    assert differ - IDENTITY == set(EXPECTED_CHANGES[variant])
    for key, value in EXPECTED_CHANGES[variant].items():
        assert mine[key] == value
    assert mine[("name",)] == f"ablation_{variant}"


def test_every_variant_passes_check(tmp_path):
    from click.testing import CliRunner

    from neuralsynth.cli.main import cli

    for path in sorted(ABLATIONS.glob("*.yaml")):
        result = CliRunner().invoke(cli, ["check", str(path)])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"ok: {path}")


def test_last_validations_skip_the_baseline_and_broken_lines(tmp_path):
    from neuralsynth.evaluation.ablation import last_validations, mean_std

    log = tmp_path / "metrics.jsonl"
    lines = [{"step": 0, "train_loss": None, "val_loss": 9.0}]
    lines += [{"step": s, "train_loss": s / 10, "val_loss": s / 100} for s in (10, 20, 30)]
    log.write_text("\n".join(json.dumps(x) for x in lines[:3]) + "\n{\"step\": 25, \"tr"
                   + "\n" + json.dumps(lines[3]) + "\n")
    assert [r["step"] for r in last_validations(log, 5)] == [10, 20, 30]
    assert [r["step"] for r in last_validations(log, 2)] == [20, 30]
    assert last_validations(tmp_path / "missing.jsonl", 3) == []
    ms = mean_std([1.0, 2.0, 4.0])
    assert (ms.mean, ms.n) == (pytest.approx(7 / 3), 3)
    assert ms.std == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2
                                              + (4 - 7 / 3) ** 2) / 2))   # sample std
    assert mean_std([5.0]).std == 0.0 and mean_std([]) is None


@pytest.fixture()
def ablation_script(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    return importlib.import_module("ablation")


def test_runner_trains_tabulates_and_reuses_runs(ablation_script, small_dataset, tmp_path,
                                                  capsys):
    out = tmp_path / "runs"
    argv = ["--dataset", str(small_dataset), "--variants",
            "proposed,frames_only,loss_tanh_log_abs_mse", "--steps", "20", "--val-every", "5",
            "--seeds", "1", "--out", str(out), "--eval-losses"]
    for o in TINY:
        argv += ["-o", o]

    assert ablation_script.main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    rows = {line.split()[0]: line for line in lines if line.split()
            and line.split()[0] in ("proposed", "frames_only", "loss_tanh_log_abs_mse")}
    assert set(rows) == {"proposed", "frames_only", "loss_tanh_log_abs_mse"}
    for name in ("proposed", "frames_only"):
        figures = [float(tok) for tok in rows[name].split()[2:] if _is_number(tok)]
        # train, val and the three eval losses, each mean and std, then steps/s
        assert len(figures) == 11 and all(math.isfinite(f) for f in figures), rows[name]
    assert "the runs of proposed" in rows["loss_tanh_log_abs_mse"]
    assert "20 steps" in captured.out and "batch 4 x 64 frames" in captured.out
    assert "runs finished: 2 of 2" in captured.out
    # One line per run on stderr; the tanh-loss variant is the proposed run, not a third.
    assert captured.err.count("steps in") == 2
    for v in ("proposed", "frames_only"):
        assert (out / v / "seed0" / "last.pt").is_file()
    assert not (out / "loss_tanh_log_abs_mse").exists()

    # Again with --json: nothing is retrained, and the figures are the runs' own.
    stamp = (out / "proposed" / "seed0" / "last.pt").stat().st_mtime_ns
    assert ablation_script.main(argv + ["--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("complete already") == 2
    assert (out / "proposed" / "seed0" / "last.pt").stat().st_mtime_ns == stamp
    r = json.loads(captured.out)
    assert {"benchmark", "scale", "variants", "runs_total", "runs_finished", "target",
            "target_met", "eval_losses", "out", "paper"} <= set(r)
    assert r["target_met"] and r["runs_total"] == r["runs_finished"] == 2
    assert r["scale"]["steps"] == 20 and r["scale"]["instruments"] == ["grand_piano",
                                                                        "church_organ"]
    assert set(r["scale"]["dataset_hours"]) == {"train", "val"}
    by_name = {row["variant"]: row for row in r["variants"]}
    assert [row["variant"] for row in r["variants"]] == ["proposed", "frames_only",
                                                          "loss_tanh_log_abs_mse"]
    proposed = by_name["proposed"]
    assert by_name["loss_tanh_log_abs_mse"]["same_as"] == "proposed"
    run = proposed["runs"][0]
    # Validations at 5, 10, 15, 20: the last three are pooled.
    assert [v["step"] for v in run["validations"]] == [10, 15, 20]
    vals = [v["val_loss"] for v in run["validations"]]
    assert proposed["val_loss"]["mean"] == pytest.approx(sum(vals) / 3)
    assert proposed["val_loss"]["n"] == 3
    # The final model scored in its own loss is the run's last logged validation loss.
    assert proposed["eval_losses"]["tanh_log_abs_mse"]["mean"] == pytest.approx(vals[-1],
                                                                                rel=1e-4)
    # The three losses measure different things: abs MSE of linear magnitudes is not
    # the tanh-log error.
    ev = proposed["eval_losses"]
    assert ev["abs_mse"]["mean"] != pytest.approx(ev["tanh_log_abs_mse"]["mean"])
    assert ev["log_abs_mse"]["mean"] > ev["tanh_log_abs_mse"]["mean"]

    # Other options with the same --out: refused, naming the way out; nothing changes.
    assert ablation_script.main(argv + ["-o", "train.batch_size=2"]) == 2
    err = capsys.readouterr().err
    assert "differs from the run's in train.batch_size" in err and "another --out" in err
    assert (out / "proposed" / "seed0" / "last.pt").stat().st_mtime_ns == stamp


def test_a_diverged_run_is_reported_not_raised(ablation_script, small_dataset, tmp_path,
                                               capsys):
    # A step of 1e30 overflows exp(log mel) to inf at once: abs MSE is then inf.
    argv = ["--dataset", str(small_dataset), "--variants", "loss_abs_mse",
            "--steps", "6", "--out", str(tmp_path), "-o", "train.lr=1e30"]
    for o in TINY:
        argv += ["-o", o]
    code = ablation_script.main(argv)
    captured = capsys.readouterr()
    assert code == 1
    assert "loss_abs_mse seed 0: did not finish (training diverged at step" in captured.err
    row = next(line for line in captured.out.splitlines() if line.startswith("loss_abs_mse"))
    assert "(1 of 1 runs did not finish)" in row
    assert "runs finished: 0 of 1 (target: all) NOT MET" in captured.out


def test_runner_lists_the_variants_in_table_order(ablation_script, capsys):
    assert ablation_script.available_variants() == ["proposed", *EXPECTED_CHANGES]
    assert ablation_script.main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["proposed", *EXPECTED_CHANGES]
    assert "frames_only            Table 3 ablation: frame input only" in out


def test_runner_rejects_an_unknown_variant(ablation_script, small_dataset, tmp_path, capsys):
    code = ablation_script.main(["--dataset", str(small_dataset), "--variants", "conv3x2",
                                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: unknown variant 'conv3x2' (did you mean 'conv3x1'?)")
    assert list(tmp_path.iterdir()) == []


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True
