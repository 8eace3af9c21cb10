"""Offline images and detector preprocessing: shapes, ranges and letterbox geometry by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sw.data.images import Letterbox, blazeface_input, grace_hopper, render_text, yolox_input


def test_grace_hopper_is_the_real_photo():
    img = grace_hopper()
    assert img.shape == (600, 512, 3) and img.dtype == np.uint8
    assert 50 < img.mean() < 200 and img.std() > 30  # a real photo, not a blank


def test_blazeface_letterbox_geometry():
    x, box = blazeface_input(grace_hopper())
    assert x.shape == (1, 128, 128, 3) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    # 600x512 -> 600x600 canvas with 44 px of black left and right; scale 128/600.
    assert box.scale == pytest.approx(128 / 600)
    assert box.offset_x == pytest.approx(44 * 128 / 600) and box.offset_y == 0.0
    assert np.all(x[0, :, :8] == -1.0)  # left padding is black (-1)
    # A box in input pixels maps back to image pixels.
    back = box.to_image(np.array([[box.offset_x, 0.0, box.offset_x + 64, 128.0]]))
    np.testing.assert_allclose(back, [[0, 0, 300, 600]])


def test_yolox_preprocessing_matches_ddddocr_convention():
    img = np.zeros((208, 104, 3), dtype=np.uint8)
    img[..., 0] = 200  # red in RGB
    x, box = yolox_input(img)
    assert x.shape == (1, 3, 416, 416)
    assert box.scale == 2.0
    # Resized image fills the top-left 416x208; the rest is 114. Channel 2 is red (BGR).
    assert np.all(x[0, 2, :, :208] == 200) and np.all(x[0, 0, :, :208] == 0)
    assert np.all(x[0, :, :, 208:] == 114)


def test_render_text_has_ink():
    img = render_text(("ABC",), size=(96, 160), fontsize=30)
    assert img.shape == (96, 160, 3)
    assert (img.min(axis=2) < 60).mean() > 0.01  # dark text pixels exist
    assert (img.min(axis=2) > 200).mean() > 0.5  # mostly background


def test_bad_image():
    with pytest.raises(ValueError, match=r"expected uint8 RGB \[H, W, 3\]"):
        blazeface_input(np.zeros((4, 4), np.uint8))
    assert Letterbox(1.0, 0.0, 0.0).to_image(np.zeros((0, 4))).shape == (0, 4)
