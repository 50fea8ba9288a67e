"""The two kinds of bad input every command reports in one line (mrgen.stage.guarded): a malformed spec
and a bad file. Each message names the key or file and what was expected vs found."""


class SpecError(ValueError):
    """params.yaml (or a command line naming its presets and instances) is malformed."""


class DataError(ValueError):
    """A raw, prepared or checkpoint file is missing or unreadable, or holds what its reader did not expect."""
