"""Collectives for fitting under torch.distributed (torchrun), and their single-process stand-ins.

Two ways to use several processes:
- population split (default): every rank has all the data, and the multi-start population
  and the refinement candidates are divided between ranks; the best candidate is chosen from
  the gathered results, so every rank ends with the same model.
- data parallel (``data_parallel=True``): every rank holds its own shard of the rows and the
  whole population; every sum over samples (normal equations, gradients, losses, the
  Gauss-Newton matrices of the refinement) is all-reduced, so all ranks take identical steps.
"""

from __future__ import annotations

import logging
import os

import torch
import torch.distributed as dist

logger = logging.getLogger("lognet")


def init_from_environment() -> bool:
    """Join the process group that torchrun describes in the environment, once.

    Returns True when running distributed. Uses gloo on the CPU and nccl when CUDA is
    available. Does nothing outside torchrun (no WORLD_SIZE, or WORLD_SIZE=1).
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend=backend)
    logger.info("joined process group: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(), backend)
    return dist.get_world_size() > 1


def leave_process_group() -> None:
    """Destroy the default process group if one exists.

    A process that exits with a live gloo group can abort in gloo's threads at interpreter
    shutdown ("terminate called without an active exception"), so the CLI leaves it first.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    """Rank of this process, 0 outside torch.distributed."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process() -> bool:
    """True on rank 0, which alone writes files and prints."""
    return rank() == 0


class Communicator:
    """The collectives the engine needs; the identity when ``world_size`` is 1.

    Attributes:
        rank: this process's rank.
        world_size: number of processes.
        data_parallel: every rank has a different shard of the samples.
    """

    def __init__(self, data_parallel: bool = False, *, single: bool = False) -> None:
        active = not single and dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if active else 0
        self.world_size = dist.get_world_size() if active else 1
        self.data_parallel = data_parallel and self.world_size > 1
        if data_parallel and self.world_size == 1:
            logger.info("data_parallel=True in a single process: fitting the local data only")

    @property
    def splits_population(self) -> bool:
        return self.world_size > 1 and not self.data_parallel

    def sum_over_samples(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum a per-shard partial sum over all ranks (identity unless data parallel)."""
        if not self.data_parallel:
            return tensor
        reduced = tensor.detach().clone().contiguous()
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced

    def min(self, value: float) -> float:
        """Minimum of a float over all ranks."""
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
        return float(tensor)

    def gather(self, obj) -> list:
        """Gather every rank's ``obj`` and return the list, in rank order, on every rank."""
        if self.world_size == 1:
            return [obj]
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered


LOCAL = Communicator(single=True)
