"""The one training loop every model family runs through (HVAE, score parts, WMGM's GAN; mrgen.train.families).

A family owns its modules and its step function; the loop owns everything around them:
- resume from work/latest.pt (or previous.pt when latest.pt is unreadable; mrgen.train.checkpoint) when its
  fingerprint (the stage's inputs and params) and process count match; the state holds every module,
  optimizer and schedule, each rank's CPU and GPU RNG, the step, the skip count and the curve, so a killed
  run continues bit-identically;
- the batches, prepared ahead by a thread (mrgen.data.loader.prefetched);
- the curve: the step's values are read back from the device only every log_every steps (and averaged over
  ranks there), so no step waits on the host; the family may add values then (the HVAE's validation ELBO);
- the curve so far is rewritten at every log step (rank 0, atomically) as work/<preset>/<run>/curve.csv, the
  format of the finished models/<preset>/<run>/curve.csv, so a days-long run can be watched while it
  trains (`dvc plots show work/<preset>/<run>/curve.csv -x step`); a resumed run continues it;
- a checkpoint every ckpt_every steps (rank 0 writes);
- SIGTERM and SIGUSR1 (a cluster's notice before preemption or a time limit): the loop saves its state
  after the step in flight and raises Preempted; the stage then exits 75, "resumable". Under DDP the ranks
  agree on the stopping step every SIGNAL_POLL steps (a one-scalar all-reduce).
"""
from __future__ import annotations

import copy
import signal
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mrgen.data.loader import Batches, prefetched
from mrgen.errors import Preempted
from mrgen.io import progress, short_reason, write_curve
from mrgen.train.checkpoint import LATEST, finish_resumable, load_resumable, save_resumable
from mrgen.train.dist import Dist

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
SIGNAL_POLL = 10                                  # steps between the ranks' agreement on a stop request
FORMAT = 2                                        # of the checkpoint written here
LIVE_CURVE = "curve.csv"                          # in the run's work folder, rewritten at every log step


@dataclass
class TrainState:
    step: int = 0
    skipped: int = 0
    curve: list = field(default_factory=list)


class StopRequest:
    """While active, SIGTERM and SIGUSR1 only set `signum`; the loop checks it between steps."""

    def __init__(self):
        self.signum = 0

    def __enter__(self):
        self.previous = {s: signal.signal(s, self._note) for s in STOP_SIGNALS}
        return self

    def _note(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for s, h in self.previous.items():
            signal.signal(s, h)

    def agreed(self, dist: Dist, step: int) -> int:
        """The signal to stop on after this step (0: go on), the same on every rank."""
        if dist.world == 1:
            return self.signum
        if step % SIGNAL_POLL:
            return 0
        return max(dist.gather(self.signum))


def rng_state(device: str) -> dict:
    return {"cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(device) if device.startswith("cuda") else None}


def set_rng_state(state: dict, device: str) -> None:
    torch.set_rng_state(state["cpu"])
    if device.startswith("cuda") and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def fit(family, batches: Batches, t: dict, work: Path, fingerprint: str, dist: Dist = Dist(),
        desc: str = "train") -> TrainState:
    """Train `family` to t['iters'] steps on `batches`, resuming from `work` where it can; returns the state."""
    work = Path(work)
    objects = family.objects()

    def accept(ck):
        if ck.get("format") != FORMAT:
            return "it was written by an older version of the training loop"
        if ck["fingerprint"] != fingerprint or len(ck["rng"]) != dist.world:
            return "it belongs to other inputs, params or process count"
        fresh = {k: copy.deepcopy(o.state_dict()) for k, o in objects.items()}
        try:                                      # a state that does not fit: as good as corrupt
            for k, o in objects.items():
                o.load_state_dict(ck["objects"][k])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
            for k, o in objects.items():
                o.load_state_dict(fresh[k])
            return f"its state does not fit this model ({short_reason(e)})"
        return None

    keys = ("format", "fingerprint", "objects", "rng", "step", "skipped", "curve")
    ck = load_resumable(work, keys, accept, map_location=dist.device, dist=dist)
    state = TrainState()
    if ck is not None:
        if not dist.main:                         # rank 0 loaded it while deciding; the others do it here
            for k, o in objects.items():
                o.load_state_dict(ck["objects"][k])
        set_rng_state(ck["rng"][dist.rank], dist.device)
        state = TrainState(ck["step"], ck["skipped"], ck["curve"])
    skipped = torch.zeros((), dtype=torch.int64, device=dist.device)    # since state.skipped, on the device

    def save():
        rngs = dist.gather(rng_state(dist.device))
        if dist.main:
            save_resumable(work, {"format": FORMAT, "fingerprint": fingerprint, "rng": rngs, "step": state.step,
                                  "skipped": state.skipped, "curve": state.curve,
                                  "objects": {k: o.state_dict() for k, o in objects.items()}})
        dist.barrier()

    steps = range(state.step, t["iters"])
    bar = None
    try:
        with StopRequest() as stop, prefetched(batches, steps, dist.device, t["prefetch"]) as feed:
            # the bar's first line says the loop now answers SIGTERM / SIGUSR1 with a checkpoint
            bar = progress(None, total=t["iters"], initial=state.step, desc=desc) if dist.main else None
            for step, batch in feed:
                out = family.step(step, batch)
                if "ok" in out:
                    skipped += ~out.pop("ok")
                state.step = step + 1
                last = state.step == t["iters"]
                if state.step % t["log_every"] == 0 or last or state.step % t["ckpt_every"] == 0:
                    state.skipped += int(skipped.item())
                    skipped.zero_()
                if state.step % t["log_every"] == 0 or last:
                    row = {"step": state.step}
                    for k, v in out.items():
                        v = v.item() if torch.is_tensor(v) else v
                        row[k] = dist.all_mean(v) if k in family.averaged else v
                    if family.skips:
                        row["skipped"] = state.skipped
                    row.update(family.at_log(state.step, last))
                    state.curve.append({k: row.get(k) for k in family.fields})
                    if dist.main:
                        write_curve(work / LIVE_CURVE, family.fields, state.curve)
                    if bar is not None:
                        bar.set_postfix({family.fields[1]: f"{row[family.fields[1]]:.4f}"}, refresh=False)
                if bar is not None:
                    bar.update(1)
                if last:
                    break
                if state.step % t["ckpt_every"] == 0:
                    save()
                if signum := stop.agreed(dist, state.step):
                    state.skipped += int(skipped.item())
                    skipped.zero_()
                    save()
                    raise Preempted(signum, state.step, work / LATEST)
    finally:
        if bar is not None:
            bar.close()
    if dist.main:
        finish_resumable(work)
    return state
