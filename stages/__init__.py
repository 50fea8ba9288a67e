"""Thin stage CLIs, one module per stage kind: each defines `body(ctx)` (and `launch(ctx)` where it can run
as several processes); `mrgen KIND --preset P NAME` runs it under the stage contract (mrgen.stage)."""
