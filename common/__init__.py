"""Helpers every package uses and no package owns: the user-facing error type and atomic file writes."""
