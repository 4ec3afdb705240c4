"""Decoded images converted to RGB the way an image viewer shows them, whatever their Pillow mode, and
small embeddable thumbnails of them."""

from __future__ import annotations

import base64
import io
from typing import Mapping, Sequence

import numpy as np
import PIL.Image


def to_rgb(image: PIL.Image.Image) -> PIL.Image.Image:
    """An RGB image of any Pillow mode, as an image viewer would show it.

    8-bit modes (1, L, P, LA, PA, RGBA, CMYK, YCbCr, ...) use Pillow's own conversion, alpha dropped, as the
    published numbers did. Pillow clips the wider integer and float modes to 0..255 instead of scaling
    them, which turns a 16-bit grayscale photo white; here 16-bit values (I;16*, and I holding values up to
    65535) are scaled by 255/65535, and float images holding values in [0, 1] by 255.
    """
    if image.mode == "RGB":
        image.load()  # the pixels, read now: the caller may close the file
        return image
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or (image.mode == "I" and values.max(initial=0) > 255):
            values = values * (255.0 / 65535.0)
        elif image.mode == "F" and values.max(initial=0) <= 1.0:
            values = values * 255.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return PIL.Image.fromarray(np.stack([gray] * 3, axis=-1), "RGB")
    return image.convert("RGB")


def thumbnail(image: PIL.Image.Image, size: int, quality: int) -> str:
    """A data: URL of a small JPEG of the image, for pages that embed their images."""
    small = to_rgb(image).copy()
    small.thumbnail((size, size))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def open_image(stored: Mapping, box: Sequence[float] | None = None) -> PIL.Image.Image:
    """An undecoded image ({"bytes", "path"}) decoded to RGB and cropped to its box where it has one (Pillow pads
    a box that reaches past an edge, as the benchmarks' official code crops)."""
    with PIL.Image.open(io.BytesIO(stored["bytes"]) if stored["bytes"] else stored["path"]) as image:
        rgb = to_rgb(image)
    return rgb if box is None else rgb.crop(tuple(box))
