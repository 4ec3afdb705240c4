"""to_rgb: every Pillow mode as a viewer shows it, against conversions written here with numpy."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from common.images import to_rgb

GRAY16 = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000 + 7  # up to 55007, beyond 8 bits
SCALED = GRAY16.astype(np.float64) * 255 / 65535
COLOR = np.array([[[200, 30, 90], [0, 255, 10], [12, 34, 56], [255, 255, 255]]] * 3, dtype=np.uint8)


def _gray(values: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(np.rint(values), 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


@pytest.mark.parametrize("mode,dtype", [("I;16", "<u2"), ("I;16L", "<u2"), ("I;16B", ">u2")])
def test_sixteen_bit_gray_is_scaled_not_clipped(mode, dtype):
    image = PIL.Image.frombytes(mode, (4, 3), GRAY16.astype(dtype).tobytes())
    assert np.array_equal(np.asarray(to_rgb(image)), _gray(SCALED))
    if mode == "I;16":  # what Pillow alone makes of it: every value clipped at 255, a white photo
        assert np.array_equal(np.asarray(image.convert("RGB")), _gray(np.minimum(GRAY16, 255)))


def test_sixteen_bit_png_opens_and_converts_as_a_viewer_shows_it(tmp_path):
    PIL.Image.fromarray(GRAY16).save(tmp_path / "gray16.png")
    with PIL.Image.open(tmp_path / "gray16.png") as image:
        assert np.array_equal(np.asarray(to_rgb(image)), _gray(SCALED))


def test_wide_integer_and_float_modes():
    wide = PIL.Image.fromarray(GRAY16.astype(np.int32), "I")
    assert np.array_equal(np.asarray(to_rgb(wide)), _gray(SCALED))
    narrow = PIL.Image.fromarray((GRAY16 // 300).astype(np.int32), "I")  # values within 0..255 stay as they are
    assert np.array_equal(np.asarray(to_rgb(narrow)), _gray(GRAY16 // 300))
    unit = (GRAY16 / 65535).astype(np.float32)
    assert np.array_equal(np.asarray(to_rgb(PIL.Image.fromarray(unit, "F"))), _gray(unit * 255))


def test_eight_bit_modes():
    rgb = PIL.Image.fromarray(COLOR, "RGB")
    luma = np.asarray(rgb.convert("L"))
    cases = {
        "L": _gray(luma),
        "LA": _gray(luma),
        "RGBA": COLOR,  # alpha dropped
        "CMYK": COLOR,
        "1": _gray(np.where(luma >= 128, 255, 0)),
    }
    for mode, expected in cases.items():
        binary = rgb.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1")
        image = rgb.convert(mode) if mode != "1" else binary
        assert np.array_equal(np.asarray(to_rgb(image)), expected), mode
    palette = rgb.convert("P", palette=PIL.Image.Palette.ADAPTIVE, colors=4)
    lookup = np.array(palette.getpalette()[:12], dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(np.asarray(to_rgb(palette)), lookup[np.asarray(palette)])
    assert to_rgb(rgb) is rgb  # already RGB: the same pixels, no copy
