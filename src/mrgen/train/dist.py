"""Multi-process training (DDP through torchrun): who this process is, and the launch of the workers.

The train stage's command is the same for one process and for N: with `training.gpus: N > 1` and not
yet inside torchrun, the stage re-launches itself as `python -m torch.distributed.run --standalone
--nproc-per-node N -m stages.train ...` (one process per GPU; gloo on CPU for tests). Rank 0 alone
writes checkpoints, logs, outputs and the provenance record.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from mrgen.errors import RESUMABLE_EXIT


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def all_mean(self, value: float) -> float:
        """The mean of a scalar over ranks (the global batch's loss for logging)."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        torch_dist.all_reduce(t)
        return t.item() / self.world

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on one (a NaN anywhere skips the step everywhere)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        torch_dist.all_reduce(t)
        return t.item() > 0

    def all_true(self, flag: torch.Tensor) -> torch.Tensor:
        """A bool tensor that is true on every rank only if it is true on all (no host synchronisation)."""
        if self.world == 1:
            return flag
        t = flag.to(torch.int32)
        torch_dist.all_reduce(t, op=torch_dist.ReduceOp.MIN)
        return t.bool()

    def gather(self, obj) -> list:
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        torch_dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world > 1:
            torch_dist.barrier()


def default_device() -> str:
    """Where a single-process stage computes: the GPU when there is one."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe(dist: Dist) -> dict:
    """For a provenance record: where the stage computed (the GPU's name, or the CPU's threads)."""
    if dist.device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(dist.device))
    else:
        name = f"cpu, {torch.get_num_threads()} threads"
    return {"device": dist.device, "device_name": name, "world_size": dist.world}


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def under_launcher() -> bool:
    return "WORLD_SIZE" in os.environ


def setup() -> Dist:
    """Join the process group torchrun describes (env://): NCCL with one GPU per process, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world == 1:
        return Dist(device=default_device())
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    if not torch_dist.is_initialized():
        torch_dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(torch_dist.get_rank(), world, f"cuda:{local}" if cuda else "cpu")


def teardown() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def relaunch(nproc: int, module: str, argv: list[str]) -> int:
    """Run `python -m module argv` as nproc torchrun workers on this node; returns their exit status.

    SIGTERM and SIGUSR1 reaching this process go on to torchrun as SIGTERM, which hands it to every worker:
    their training loop saves its state and they stop. The status is then 75 ("resumable") unless the
    workers had already finished."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", module, *argv]
    print(f"launching {nproc} processes: {' '.join(cmd)}", file=sys.stderr)
    # the workers run under this process's stage lock: they must not take it, and rank 0 commits
    child = subprocess.Popen(cmd, env={**os.environ, "MRGEN_LOCK_HOLDER": str(os.getpid())})
    asked = []

    def forward(signum, frame):
        asked.append(signum)
        child.send_signal(signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        status = child.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    return RESUMABLE_EXIT if asked and status != 0 else status
