"""Prepared datasets: readers per raw source, the on-disk layout, and the training loader."""
