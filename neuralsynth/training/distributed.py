"""Training across processes with ``torchrun``: who this process is, and the collectives.

``torchrun --standalone --nproc_per_node N -m neuralsynth train RECIPE`` starts N copies
of the command with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address in
their environment; :func:`from_environment` reads them and joins the process group
(nccl on GPUs, gloo on CPU). A plain ``neuralsynth train`` is a world of one, and every
method here is then a no-op, so the trainers have one code path.

How a step is shared (see :meth:`TrainerBase.train_step`):

- every rank draws the same global batch indices from the same sampler generator, and
  collates only its own contiguous share of the crops;
- each rank's loss is weighted by its share of the global batch's loss units (real
  frames, samples), so the sum over ranks is the global batch's mean loss;
- the gradients are summed over ranks in one flat all-reduce, which carries the loss and
  a failure flag with them: a rank whose step raised contributes zeros and the flag, and
  every rank then stops together instead of waiting forever for it.

This is the all-reduce DDP does, without DDP's overlap of communication and backward
(the models here are a few MB, so one bucket per step costs little) and without its
wrapper, so trainers, plugin trainers and checkpoints see the plain model.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from typing import Iterable, Sequence

import torch

from neuralsynth.errors import NeuralsynthError, UsageError

#: How long a collective may wait for the other ranks before the run is declared hung.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=60)
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class PeerFailed(NeuralsynthError):
    """Another rank's step failed; it reports why, this rank stops quietly."""

    silent = True


@dataclasses.dataclass(frozen=True)
class World:
    """This process's place among the ranks of one run (a world of one by default)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""            # "" when no process group is used

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and prints."""
        return self.rank == 0

    def share(self, n: int) -> tuple[int, int]:
        """``[lo, hi)``: this rank's contiguous share of ``n`` items (sizes differ by ≤ 1)."""
        return self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size

    # ------------------------------------------------------------------ collectives
    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64 on the CPU)."""
        if not self.distributed:
            return [float(v) for v in values]
        t = torch.tensor([float(v) for v in values], dtype=torch.float64,
                         device=self._device())
        torch.distributed.all_reduce(t)
        return t.cpu().tolist()

    def all_reduce_step(self, params: Iterable[torch.nn.Parameter], loss: float,
                        failed: bool) -> tuple[float, int]:
        """Sum the gradients of ``params`` over ranks and divide by the world size.

        ``loss`` (this rank's weighted loss) and ``failed`` ride in the same buffer; the
        returned pair is the global loss and the number of ranks whose step failed. A
        parameter without a gradient counts as zeros.
        """
        params = list(params)
        if not self.distributed:
            return loss, int(failed)
        ref = params[0]
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1).to(torch.float32) for g in grads]
                         + [torch.tensor([loss, float(failed)], dtype=torch.float32,
                                         device=ref.device)])
        torch.distributed.all_reduce(flat)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).to(p.dtype) / self.world_size
            offset += n
        return float(flat[-2]), int(round(float(flat[-1])))

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Give every rank rank 0's parameters and buffers (identical starting points)."""
        if not self.distributed:
            return
        for t in list(module.parameters()) + list(module.buffers()):
            torch.distributed.broadcast(t.data, src=0)

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def close(self, together: bool = True) -> None:
        """Leave the process group.

        When every rank leaves at the same point (``together``: the run finished, or all
        agreed to stop), each first waits for the others, since rank 0 may still be
        writing its files: a rank that tore down its gloo connections while its peer was
        busy was seen to abort at exit (SIGABRT, "terminate called without an active
        exception") on a loaded 2-core CI machine. After an error there is no wait: a
        peer may be gone, and torchrun stops the rest.
        """
        if not (self.distributed and torch.distributed.is_initialized()):
            return
        if together:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()

    def _device(self) -> torch.device:
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


SINGLE = World()


def launched_by_torchrun() -> bool:
    """True when the environment holds a torchrun launch (``WORLD_SIZE`` and ``RANK``)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def from_environment(device: torch.device) -> World:
    """Join the process group torchrun describes; :data:`SINGLE` outside torchrun.

    ``device`` is where this run trains: nccl for CUDA (each process on GPU
    ``LOCAL_RANK``), gloo for the CPU. Raises :class:`UsageError` for an environment
    that cannot work (a world larger than the GPUs of a node, missing variables).
    """
    if not launched_by_torchrun():
        return SINGLE
    missing = [k for k in _ENV if k not in os.environ]
    if missing:
        raise UsageError(f"incomplete distributed environment (missing {', '.join(missing)});"
                         f" launch with torchrun")
    try:
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ["LOCAL_RANK"])
    except ValueError:
        raise UsageError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    if world_size == 1:
        return SINGLE
    if not torch.distributed.is_available():
        raise UsageError("this torch build has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        if local_rank >= torch.cuda.device_count():
            raise UsageError(f"local rank {local_rank} has no GPU (this node has "
                             f"{torch.cuda.device_count()}); lower --nproc_per_node")
        torch.cuda.set_device(local_rank)
    torch.distributed.init_process_group(backend, rank=rank, world_size=world_size,
                                         timeout=COLLECTIVE_TIMEOUT)
    return World(rank, world_size, local_rank, backend)


def rank_device(device: torch.device, world: World) -> torch.device:
    """The device of this rank: its own GPU under nccl, ``device`` otherwise."""
    if world.backend == "nccl":
        return torch.device("cuda", world.local_rank)
    return device


__all__ = ["World", "SINGLE", "PeerFailed", "from_environment", "launched_by_torchrun",
           "rank_device", "COLLECTIVE_TIMEOUT"]
