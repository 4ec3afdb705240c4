"""Runs from flags to reports: what every run does first (`setup`), a grid experiment's run (`grid_run`) and a
re-ranking run (`retrieval_run`).

The top library layer: it loads data and checkpoints, binds the output folder to them, drives the scoring
loop (evaluation/) and writes the report (reports/). The experiment scripts build on it.
"""
