"""Which networks (parts) each wavelet-paper method trains; torch-free, so the config can check it."""
from __future__ import annotations

METHODS = ("sgm", "wsgm", "wmgm")


def parts(method: str, levels: int) -> list[str]:
    """The parts a method needs, in sampling order."""
    if method == "sgm":
        return ["full"]
    if method == "wsgm":
        return ["ll"] + [f"hf{j}" for j in range(levels, 0, -1)]
    if method == "wmgm":
        return ["ll", "gan"]
    raise ValueError(f"method: expected one of {METHODS}, found {method!r}")
