"""The two kinds of bad input every command reports in one line (mrgen.stage.guarded): a malformed spec
and a bad file. Each message names the key or file and what was expected vs found. And the one way a
stage stops early on purpose: preempted, with its training state saved."""

RESUMABLE_EXIT = 75          # EX_TEMPFAIL: interrupted with a checkpoint; the same command resumes


class SpecError(ValueError):
    """params.yaml (or a command line naming its presets and instances) is malformed."""


class DataError(ValueError):
    """A raw, prepared or checkpoint file is missing or unreadable, or holds what its reader did not expect."""


class Preempted(Exception):
    """SIGTERM or SIGUSR1 reached a training loop: it saved its state at `step` to `path` and stopped."""

    def __init__(self, signum: int, step: int, path):
        super().__init__(signum, step, path)
        self.signum, self.step, self.path = signum, step, path
