"""Tables and figures, rendered from metrics files only (never from models).

Shared: `collect` (reading inputs, the paper peer of each row, the like-with-like rule for Δ), `render`
(Markdown / CSV / LaTeX), `claims` (the paper's findings tested on both sides), `figures` (backend, saving),
and the row builders two or more kinds share: `nll` (f4, t1, t2, t3, g4) and `fid` (w1, w4). One module per
experiment kind (f4, f5, f6, t1, t2, t3, g4, th2, w1, w4, w5, w6): a table kind has `table(spec, exp, root)`,
a figure kind `rows(spec, exp, root)` and `draw(rows, caption, figure)`.
"""
