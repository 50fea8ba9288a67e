"""The layer-string grammar of the HVAE (see mrgen.models.hvae): parsed without torch, so the config can
validate layer strings while the DAG is built."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    """One parameterised block of a layer string: its resolution, pooling / mix-in, and repeat count."""
    res: int
    down: int | None = None
    mixin: int | None = None
    repeat: int = 1


_TOKEN = re.compile(r"^(\d+)(?:([xrdm])(\d+))?(?:r(\d+))?$")


def parse_layers(spec: str, kind: str) -> list[Layer]:
    """Parse an encoder ('enc') or decoder ('dec') layer string into parameterised blocks."""
    allowed = {"enc": "xrd", "dec": "xrm"}[kind]
    layers: list[Layer] = []
    for tok in spec.split(","):
        m = _TOKEN.match(tok.strip())
        if not m or (m.group(2) and m.group(2) not in allowed) or (m.group(4) and m.group(2) != "x"):
            raise ValueError(f"bad {kind} layer token {tok!r} in {spec!r}: expected R, RxN, RrK, RxNrK or "
                             f"{'RdK' if kind == 'enc' else 'RmS'} with integers R, N, K, S")
        res, op, n = int(m.group(1)), m.group(2), int(m.group(3) or 1)
        if op == "x":
            layers += [Layer(res, repeat=int(m.group(4) or 1)) for _ in range(n)]
        elif op == "r":
            layers.append(Layer(res, repeat=n))
        elif op == "d":
            layers.append(Layer(res, down=n))
        elif op == "m":
            layers.append(Layer(res, mixin=n))
        else:
            layers.append(Layer(res))
    return layers
