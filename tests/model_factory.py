"""An untrained but real Mel2Mel checkpoint for render tests (no training needed)."""

from __future__ import annotations

from pathlib import Path

import torch

from neuralsynth.checkpoint import save_checkpoint
from neuralsynth.model.mel2mel import Mel2Mel
from neuralsynth.recipe.load import recipe_from_dict
from neuralsynth.version import __version__

INSTRUMENTS = ["grand_piano", "church_organ", "trumpet"]


def make_checkpoint(path: Path, *, instruments=INSTRUMENTS, vocoder=None, seed: int = 0,
                    hidden_size: int = 16, embedding_dim: int = 2) -> Path:
    """A real, untrained Mel2Mel checkpoint (random weights) written the normal way."""
    recipe = {
        "recipe": 1,
        "name": "render_test",
        "data": {"dataset": "unused", "instruments": list(instruments)},
        "model": {"encoder": {"name": "pianoroll"},
                  "conditioner": {"name": "film", "embedding_dim": embedding_dim},
                  "sequence": {"name": "bilstm", "hidden_size": hidden_size}},
        "loss": {"name": "tanh_log_abs_mse"},
    }
    if vocoder is not None:
        recipe["vocoder"] = vocoder
    resolved = recipe_from_dict(recipe)
    torch.manual_seed(seed)
    model = Mel2Mel.from_spec(resolved.model, n_instruments=len(instruments))
    # FiLM starts as the identity for every timbre (zero weights); random weights there
    # make instruments sound different, as they do after training.
    with torch.no_grad():
        for p in model.conditioner.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return save_checkpoint(path, {
        "model_state": model.state_dict(), "recipe": resolved.to_dict(),
        "instruments": list(instruments), "providers": model.providers(), "step": 0,
        "best_val_loss": None, "neuralsynth_version": __version__,
    })
