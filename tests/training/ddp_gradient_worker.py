"""Run under torchrun by ``test_distributed.py``: one distributed gradient, saved by rank 0.

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/training/ddp_gradient_worker.py RECIPE_JSON OUT.pt

Builds the recipe's trainer on every rank exactly as ``neuralsynth train`` does, computes
the all-reduced gradient of step 1 and writes ``{"loss", "grads"}`` from rank 0.
"""

from __future__ import annotations

import json
import sys

import torch


def main(recipe_json: str, out: str) -> None:
    from neuralsynth.device import resolve_device
    from neuralsynth.recipe.load import recipe_from_dict
    from neuralsynth.training.distributed import from_environment
    from neuralsynth.training.loop import _build_trainer

    torch.set_num_threads(1)
    with open(recipe_json, encoding="utf-8") as f:
        recipe = recipe_from_dict(json.load(f))
    dev = resolve_device("cpu")
    world = from_environment(dev)
    together = False
    try:
        trainer = _build_trainer(recipe, dev, world, progress=False, say=lambda m: None)
        loss = trainer.shared_gradients(1)
        if world.is_main:
            grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters()}
            torch.save({"loss": loss, "world_size": world.world_size, "grads": grads}, out)
        together = True
    finally:
        world.close(together)


if __name__ == "__main__":
    main(*sys.argv[1:])
