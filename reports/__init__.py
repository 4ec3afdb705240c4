"""Metrics into reports: bootstrap intervals (`stats`), results.json (`results`), and the tables a run prints
when it finishes (`winoground`, `retrieval`)."""
