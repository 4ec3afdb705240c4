"""Evaluation: Winoground data, metrics and bootstrap, reports, resumable runs and the scripts' shared command line."""
