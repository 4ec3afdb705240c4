"""Metrics into reports: bootstrap intervals (`stats`), results.json (`results`), and the tables a run prints when
it finishes: Winoground's (`winoground`), the other grid benchmarks' (`grids`) and re-ranking's (`retrieval`)."""
