"""Metrics into reports: bootstrap intervals (`stats`), results.json and its schemas (`results`), and what a finished
run prints and writes: every grid benchmark's, Winoground included (`grids`), and re-ranking's (`retrieval`)."""
