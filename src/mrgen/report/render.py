"""Render a table document as Markdown (pandas -> tabulate), CSV (pandas) and LaTeX (pandas Styler, booktabs).

A `Document` is one experiment's table output: its blocks (the main table, then e.g. the claims and the
published baselines), each with a caption, columns and notes, and the rows its CSV holds (the main rows with
every field, unformatted). Every displayed value goes through `fmt`, so the three files agree digit for digit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

Column = tuple[str, str]                # (row key, header)


def fmt(v) -> str:
    """The one number format: missing as a dash, booleans yes / NO, small floats in scientific notation."""
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        return f"{v:.2e}" if v != 0 and abs(v) < 1e-2 else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


# Every LaTeX special, and the non-ASCII symbols our headers and claims use (pdflatex's default
# encodings lack them), replaced in one pass so no replacement is escaped again.
_TEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
        "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
        "Δ": r"$\Delta$", "−": r"$-$", "≤": r"$\le$", "≥": r"$\ge$", "≠": r"$\neq$", "≈": r"$\approx$",
        "‖": r"$\|$", "ε": r"$\varepsilon$", "±": r"$\pm$", "×": r"$\times$", "→": r"$\to$", "·": r"$\cdot$",
        "∘": r"$\circ$", "₁": r"$_1$", "₂": r"$_2$", "²": r"$^2$", "—": "---", "–": "--", "…": r"\ldots{}"}
_TEX_RE = re.compile("|".join(map(re.escape, _TEX)))


def tex(text) -> str:
    """`text` as LaTeX source that prints it verbatim."""
    return _TEX_RE.sub(lambda m: _TEX[m.group()], str(text))


def md_cell(text) -> str:
    """A Markdown table cell: a literal | would end the cell; a newline would end the row."""
    return str(text).replace("|", r"\|").replace("\n", " ")


@dataclass
class Block:
    """One rendered table: caption above, notes below."""
    caption: str
    rows: list[dict]
    columns: list[Column]
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[list[str]]:
        return [[fmt(r.get(k)) for k, _ in self.columns] for r in self.rows]

    def frame(self, cell=str) -> pd.DataFrame:
        return pd.DataFrame([[cell(c) for c in row] for row in self.cells()],
                            columns=[cell(h) for _, h in self.columns], dtype=object)

    def markdown(self) -> str:
        table = self.frame(md_cell).to_markdown(index=False, disable_numparse=True)
        notes = "".join(f"\n{n}\n" for n in self.notes)
        return f"{self.caption}\n\n{table}\n{notes}"

    def latex(self) -> str:
        tabular = (self.frame(tex).style.hide(axis="index")
                   .to_latex(hrules=True, column_format="l" * len(self.columns)).rstrip("\n"))
        notes = [rf"\par\smallskip{{\footnotesize {tex(n)}\par}}" for n in self.notes]
        return "\n".join([r"\begin{table}[t]", r"\centering", rf"\caption{{{tex(self.caption)}}}", tabular,
                          *notes, r"\end{table}"]) + "\n"


@dataclass
class Document:
    """An experiment's table files: Markdown and LaTeX show every non-empty block, CSV the data rows."""
    blocks: list[Block]
    data: list[dict]

    @classmethod
    def single(cls, caption: str, rows: list[dict], columns: list[Column]) -> Document:
        """One table, its rows the CSV."""
        return cls([Block(caption, rows, columns)], rows)

    def shown(self) -> list[Block]:
        return [b for i, b in enumerate(self.blocks) if i == 0 or b.rows]

    def markdown(self) -> str:
        return "\n".join(b.markdown() for b in self.shown())

    def latex(self) -> str:
        return "".join(b.latex() for b in self.shown())

    def csv(self) -> str:
        keys = [k for k, _ in self.blocks[0].columns]
        frame = pd.DataFrame(self.data, dtype=object) if self.data else pd.DataFrame(columns=keys)
        return frame.to_csv(index=False, lineterminator="\n")

    def render(self, ext: str) -> str:
        return {"md": self.markdown, "csv": self.csv, "tex": self.latex}[ext]()
