"""The paper's qualitative findings, tested on our numbers and on the paper's printed ones.

A number on 8x8 digits and one on 28x28 MNIST cannot be subtracted, but "weight sharing reaches the
NLL of VDVAE with fewer parameters" can be checked at either scale. A claim is one line per panel:
the finding in words, then for ours and for the paper a verdict (yes / no, or for a direction worse /
better / equal) with the numbers it rests on, or "not printed" where the paper printed no number.
Rows give our value under `<key>` and the paper's under `paper_<key>` (printed counts like "39m" are
read as the paper shows them); NLL units under `nll_unit` / `paper_nll_unit`.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

from mrgen.report.collect import delta_note, shown_value
from mrgen.report.render import Block, Document, fmt

COLUMNS = [("panel_label", "panel"), ("claim", "claim"), ("ours", "ours"), ("paper", "paper")]
CAPTION = ("Claims: the paper's findings tested on our numbers and on the paper's printed ones "
           "(the verdict, then the numbers it rests on)")
NOT_PRINTED = "not printed"
UNITS = {"params": "params", "ms_per_image": "ms/image", "fid": "FID"}
RELATIONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class Pair:
    """A finding that sets a subject variant against a reference variant of the same panel.

    keys: (row key, relation) pairs; the claim holds when every relation holds between subject and reference.
    The relation 'direction' instead reports worse / better / equal (lower is better)."""
    text: str                                   # may name {subject} and {reference}
    reference: str
    keys: tuple[tuple[str, str], ...]
    subject: str | None = None                  # None: every other variant of the panel


def value(row: dict, key: str, paper: bool):
    """(number, as shown) of our or the paper's `key` in `row`; (None, None) if absent."""
    v = row.get(f"paper_{key}" if paper else key)
    if v is None:
        return None, None
    if isinstance(v, str):
        return shown_value(v)[0], v
    return v, (f"{v:g}" if paper and isinstance(v, float) else fmt(v))


def unit(row: dict, key: str, paper: bool) -> str:
    return row.get(f"{'paper_' if paper else ''}{key}_unit") or UNITS.get(key, "")


def sign(a, b) -> str:
    return "<" if a < b else ">" if a > b else "="


def verdict(holds: bool) -> str:
    return "yes" if holds else "no"


def direction(a, b) -> str:
    return "worse" if a > b else "better" if a < b else "equal"


def side(subject: dict, ref: dict, keys, paper: bool) -> str | None:
    """The claim's verdict on one side (ours or the paper's), with its numbers; None if a number is missing."""
    name = "paper_variant" if paper else "variant"
    parts, holds, word = [], True, None
    for i, (key, relation) in enumerate(keys):
        (a, sa), (b, sb) = value(subject, key, paper), value(ref, key, paper)
        if a is None or b is None:
            return None
        who = (f"{subject[name]} ", f"{ref[name]} ") if i == 0 else ("", "")
        parts.append(f"{who[0]}{sa} {sign(a, b)} {who[1]}{sb} {unit(subject, key, paper)}".rstrip())
        if relation == "direction":
            word = direction(a, b)
        else:
            holds = holds and RELATIONS[relation](a, b)
    return f"{word or verdict(holds)} ({'; '.join(parts)})"


def line(label: str, text: str, ours: str | None, paper: str | None) -> dict:
    return {"panel_label": label, "claim": text, "ours": ours or "—", "paper": paper or NOT_PRINTED}


def by_panel(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["panel"], []).append(r)
    return out


def pairs(rows: list[dict], *claims: Pair) -> list[dict]:
    """Each claim on each panel that has its reference variant, one line per subject."""
    out = []
    for claim in claims:
        for pr in by_panel(rows).values():
            ref = next((r for r in pr if r["variant"] == claim.reference), None)
            for r in (pr if ref else ()):
                if r is ref or claim.subject not in (None, r["variant"]):
                    continue
                out.append(line(r["panel_label"], claim.text.format(subject=r["variant"], reference=ref["variant"]),
                                side(r, ref, claim.keys, paper=False), side(r, ref, claim.keys, paper=True)))
    return out


def block(lines: list[dict]) -> Block:
    return Block(CAPTION, lines, COLUMNS)


def document(caption: str, rows: list[dict], columns, lines: list[dict], extra: tuple[Block, ...] = ()) -> Document:
    """A table set against the paper's: the rows (with the Δ note where one applies), the claims, then `extra`;
    the CSV holds the rows."""
    return Document([Block(caption, rows, columns, delta_note(rows, bool(lines))), block(lines), *extra], rows)
