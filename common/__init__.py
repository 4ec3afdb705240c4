"""Helpers every package uses and no package owns: the user-facing error type (`errors`), atomic file writes and
locks (`files`), JSON caches (`cache`), fingerprints of data and checkpoints (`fingerprints`), and opening
images as a viewer shows them (`images`)."""
