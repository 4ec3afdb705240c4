"""Scoring a benchmark's examples: rows and their terms, batches of decoded images, resumable run logs and the
examples.jsonl layout, torchrun ranks, the T' of every caption, cross-validated alphas, re-ranking's stages, and
the scripts' shared command line."""
