"""`python -m mrgen ...` = the `mrgen` console script (torchrun relaunches the train stage this way)."""
from mrgen.cli import main

main()
