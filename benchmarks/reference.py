"""A row quoted from the literature beside the computed rows: printed as it was published, never computed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    """A quoted row; None where the source gives no number."""
    label: str
    text: float | None = None
    image: float | None = None
    group: float | None = None
    published_image: float | None = None
