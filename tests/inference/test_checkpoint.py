"""Checkpoints: atomic save, safe load, one-line errors, model rebuild."""

from __future__ import annotations

import os

import pytest
import torch

from neuralsynth.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from neuralsynth.errors import CheckpointError
from neuralsynth.inference.load import load_trained_model


def _payload(**extra):
    return {"model_state": {"w": torch.arange(6.0).reshape(2, 3)}, "recipe": {"name": "r"},
            "instruments": ["grand_piano", "church_organ"], "step": 7,
            "providers": {"loss": {"abs_mse": ["neuralsynth", "0.1.0"]}},
            "best_val_loss": 0.5, **extra}


def test_round_trip_keeps_every_value(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _payload(rng_state={"python": (3, (1, 2), None)}))
    data = load_checkpoint(path)
    assert data["format"] == FORMAT
    assert data["neuralsynth_version"]
    assert torch.equal(data["model_state"]["w"], torch.arange(6.0).reshape(2, 3))
    assert data["instruments"] == ["grand_piano", "church_organ"]
    assert data["step"] == 7 and data["best_val_loss"] == 0.5
    assert data["rng_state"]["python"] == (3, (1, 2), None)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]        # no temp files left


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _payload())
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, _payload(bad=lambda: None))          # cannot be pickled
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_save_refuses_incomplete_payload(tmp_path):
    with pytest.raises(CheckpointError, match="missing step"):
        save_checkpoint(tmp_path / "c.pt", {k: v for k, v in _payload().items() if k != "step"})
    assert not (tmp_path / "c.pt").exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("content", [b"", os.urandom(512), b"PK\x03\x04 not really a zip"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    assert "empty" in msg or "corrupt or truncated" in msg


def test_truncated_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", _payload())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)


class _Exploit:
    """Unpickling this runs a shell command (what weights_only=True must prevent)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({**_payload(), "format": FORMAT, "extra": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert not marker.exists()
    msg = str(info.value)
    assert "refused by safe loading" in msg and "\n" not in msg


def test_missing_keys_and_wrong_format(tmp_path):
    path = tmp_path / "partial.pt"
    torch.save({"format": FORMAT, "model_state": {}}, path)
    with pytest.raises(CheckpointError, match="missing: recipe, instruments, step"):
        load_checkpoint(path)
    torch.save({**_payload(), "format": 99}, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="not a neuralsynth checkpoint"):
        load_checkpoint(path)


def test_load_model_rebuilds_the_trained_model(trained_checkpoint):
    loaded = load_trained_model(trained_checkpoint)
    assert loaded.instruments == ["grand_piano", "church_organ"]
    assert loaded.step > 0 and loaded.best_val_loss is not None
    assert loaded.recipe.model["sequence"]["hidden_size"] == 16
    assert not loaded.model.training
    data = load_checkpoint(trained_checkpoint)
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value, data["model_state"][key]), key
    x = torch.zeros(1, 20, loaded.model.in_dim)
    t = loaded.model.embed(torch.tensor([[1.0, 0.0]]))
    with torch.no_grad():
        out = loaded.model(x, t)
    assert out.shape == (1, 20, 80) and torch.isfinite(out).all()


def test_load_model_rejects_weights_that_do_not_fit(trained_checkpoint, tmp_path):
    data = load_checkpoint(trained_checkpoint)
    data["recipe"]["model"]["sequence"]["hidden_size"] = 32
    path = save_checkpoint(tmp_path / "mismatch.pt", data)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_trained_model(path)
