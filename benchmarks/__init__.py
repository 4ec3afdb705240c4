"""Benchmarks: one module per benchmark, holding its loader, its metric and the rows it quotes.

    from benchmarks import BENCHMARKS
    data = BENCHMARKS["winoground"].load_winoground("facebook/winoground")

Loaders read each benchmark's official release format from the hub or a local copy, check every image
file before any model work, and raise `common.errors.InputError` with one line for anything a user can
fix. To add a benchmark, write one module and add it to `BENCHMARKS`.
"""

from benchmarks import retrieval, winoground

BENCHMARKS = {"winoground": winoground, "retrieval": retrieval}

__all__ = ["BENCHMARKS"]
