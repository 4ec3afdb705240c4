"""Image files checked for readability without decoding them, so that a run decodes each image once."""

from __future__ import annotations

import io

import PIL.Image

from common.errors import InputError


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
    except Exception:  # noqa: BLE001 - PIL raises many types for bad files
        raise InputError(f"image {name} cannot be read as an image: replace the file") from None
