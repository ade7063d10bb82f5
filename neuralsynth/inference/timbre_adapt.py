"""FiLM adaptation for one fitted timbre: its own gamma/beta offsets, the network frozen.

A two-dimensional timbre space learned from ten instruments has no point that sounds
like every new instrument. With the point fitted, this adds per-site offsets to the FiLM
modulation (gamma and beta, one number per channel at each site) for that timbre only,
found by Adam on the same loss. They become the new instrument's row of the conditioner's
per-instrument offsets (``instrument_offsets``); every other instrument's row is zero, so
the other instruments sound exactly as before, and a mix with the new instrument blends
its modulation linearly, as every mix does.
"""

from __future__ import annotations

import math

import torch

from neuralsynth.errors import NeuralsynthError

#: Adam's step size and the number of steps (measured on five new sounds fitted on one
#: piece and rendered on another; see docs/timbre.md).
ADAPT_LR = 0.02
ADAPT_STEPS = 60


def film_sites(model) -> list[str]:
    """The FiLM sites of ``model``; a one-line error when its conditioner is not FiLM."""
    cond = model.conditioner
    if not (hasattr(cond, "gamma") and hasattr(cond, "offset_gamma")):
        name = model.spec.get("conditioner", {}).get("name", type(cond).__name__)
        raise NeuralsynthError(f"--adapt film needs the FiLM conditioner; this model's "
                               f"is '{name}'")
    sites = list(cond.gamma.keys())
    if not sites:
        raise NeuralsynthError("--adapt film: the model's FiLM has no active site "
                               "(sites: []), so there is nothing to adapt")
    return sites


def adapt_film(model, items, point: torch.Tensor, log_gain: float, loss_fn, *,
               steps: int = ADAPT_STEPS, lr: float = ADAPT_LR):
    """Offsets of gamma and beta at every FiLM site for the timbre at ``point`` ``[D]``.

    ``items`` are ``(x [1, T, in_dim], target mel [1, T, n_mels])`` pairs, ``log_gain``
    the fitted level. Returns ``(film, log_gain, loss, start_loss)``: ``film`` maps
    ``"gamma.<site>"``/``"beta.<site>"`` to ``[C]`` tensors, the best seen (zero
    offsets, the unadapted point, included).
    """
    from torch.func import functional_call

    sites = film_sites(model)
    cond = model.conditioner
    # (offset key, the model's parameter it shifts, that frozen parameter)
    slots = [(f"{kind}.{s}", f"conditioner.{kind}.{s}.bias", getattr(cond, kind)[s].bias)
             for kind in ("gamma", "beta") for s in sites]
    deltas = {key: torch.zeros_like(bias, requires_grad=True) for key, _, bias in slots}
    gain = torch.tensor(float(log_gain), requires_grad=True)
    opt = torch.optim.Adam([*deltas.values(), gain], lr=lr)
    t = point.detach().reshape(1, -1)

    def loss_now() -> torch.Tensor:
        # For one timbre, an offset of gamma is an offset of its linear map's bias: the
        # frozen bias plus the offset is passed in, the model's own is left alone.
        biases = {name: bias + deltas[key] for key, name, bias in slots}
        total = 0.0
        for x, target in items:
            log_mel = functional_call(model, biases, (x, t), strict=False)
            total = total + loss_fn(torch.exp(log_mel + gain), target)
        return total / len(items)

    best = math.inf
    best_film = {k: torch.zeros_like(d.detach()) for k, d in deltas.items()}
    best_gain, start_loss = float(log_gain), math.inf
    for step in range(int(steps) + 1):
        opt.zero_grad()
        loss = loss_now()
        value = float(loss.detach())
        if step == 0:
            start_loss = value
        if value < best:
            best = value
            best_film = {k: d.detach().clone() for k, d in deltas.items()}
            best_gain = float(gain.detach())
        if step == steps or not math.isfinite(value):
            break
        loss.backward()
        opt.step()
    return best_film, best_gain, best, start_loss


__all__ = ["ADAPT_LR", "ADAPT_STEPS", "adapt_film", "film_sites"]
