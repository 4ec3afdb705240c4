"""Image files checked without decoding them, so that a bad file is named before any model work."""

from __future__ import annotations

import io

import PIL.Image

from common.errors import InputError


class ImageTooLarge(InputError):
    """An image above Pillow's decompression-bomb limit; the message says how to allow it."""


def check_image(data: bytes | None, name: str) -> None:
    """Check an image file's structure without decoding its pixels, so each image is decoded once per run.

    PNG: every chunk's CRC through IEND (catches truncated and corrupted files); JPEG: the start and end
    markers (catches truncated files); any other format is decoded, as there is no cheaper full check.
    """
    try:
        with PIL.Image.open(io.BytesIO(data or b"")) as image:
            if image.format == "PNG":
                image.verify()
            elif image.format == "JPEG":
                if not data.rstrip(b"\0").endswith(b"\xff\xd9"):
                    raise OSError("truncated JPEG file")
            else:
                image.load()
    except PIL.Image.DecompressionBombError as e:
        raise ImageTooLarge(too_large(name, e)) from None
    except Exception:  # noqa: BLE001 - PIL raises many types for bad files
        raise InputError(f"image {name} cannot be read as an image: replace the file") from None


def too_large(name: str, e: Exception) -> str:
    return (f"image {name} is too large for Pillow's decompression-bomb guard ({e}): if you trust the file, "
            f"run with --max-image-pixels set above its pixel count (0: no limit)")
