"""Scoring a benchmark's examples: rows and their terms, batches of decoded images, resumable run logs, torchrun
ranks, the T' of every caption, cross-validated alphas, and the scripts' shared command line."""
