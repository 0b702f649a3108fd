import numpy as np
import pytest

from paper.bbox_folder import (
    centre_by_box,
    centre_by_half_box,
    centre_like_emnist,
    centre_mass_square,
    fill_frame,
    keep_padded,
    square_fill,
)


def test_the_bounding_box_lands_in_the_middle_rounded_to_the_top_left():
    img = np.zeros((28, 28), np.uint8)
    img[3:8, 20:24] = 200  # 5 rows x 4 columns, far off-centre
    img[5, 21] = 0  # a hole does not change the box
    out = centre_by_box(img)
    rows, cols = np.nonzero(out.any(1))[0], np.nonzero(out.any(0))[0]
    assert (rows[0], rows[-1]) == (13, 17)  # (32 - 5) // 2 = 13
    assert (cols[0], cols[-1]) == (14, 17)  # (32 - 4) // 2 = 14
    assert out.sum() == img.sum()
    assert not centre_by_box(np.zeros((28, 28), np.uint8)).any()


@pytest.mark.parametrize(("rule", "border"), [(centre_like_emnist, 4), (square_fill, 2)])
def test_the_squaring_rules_fill_the_frame_along_the_long_side_and_centre_the_box(rule, border):
    img = np.zeros((28, 28), np.uint8)
    img[2:20, 3:9] = 255  # a tall bar, far off-centre
    out = rule(img)
    assert out.shape == (32, 32) and out.dtype == np.uint8
    rows, cols = np.nonzero(out.any(1))[0], np.nonzero(out.any(0))[0]
    inner = 32 - 2 * border  # the frame inside the blank border
    assert rows[0] >= border and rows[-1] < 32 - border and rows[-1] - rows[0] >= inner - 3
    assert abs((rows[0] + rows[-1]) / 2 - 15.5) <= 0.5
    assert abs((cols[0] + cols[-1]) / 2 - 15.5) <= 1.0
    assert cols[-1] - cols[0] < 14  # the aspect ratio is kept: still a narrow bar
    assert not rule(np.zeros((28, 28), np.uint8)).any()


def test_pad_keeps_the_image_as_published_on_a_blank_frame():
    img = np.arange(28 * 28, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    out = keep_padded(img)
    assert out.shape == (32, 32) and np.array_equal(out[2:30, 2:30], img)
    assert out.sum() == img.astype(np.int64).sum()


def test_the_mass_square_rule_puts_the_centre_of_mass_between_four_pixels():
    r, c = np.mgrid[:28, :28]
    blob = np.exp(-((r - 7) ** 2 + (c - 20) ** 2) / 8) + 0.5 * np.exp(-((r - 12) ** 2) / 4)
    img = (255 * blob / blob.max()).astype(np.uint8)  # off-centre, mass off the box's middle
    out = centre_mass_square(img).astype(np.float64)
    assert out.shape == (32, 32)
    rows, cols = np.nonzero(out.any(1))[0], np.nonzero(out.any(0))[0]
    assert rows[0] >= 6 and rows[-1] <= 25 and cols[0] >= 6 and cols[-1] <= 25  # 20 x 20
    pos = np.arange(32)
    com = (out.sum(1) * pos).sum() / out.sum(), (out.sum(0) * pos).sum() / out.sum()
    assert all(abs(v - 15.5) < 0.2 for v in com)
    assert not centre_mass_square(np.zeros((28, 28), np.uint8)).any()


def test_the_fill_rule_stretches_the_long_side_to_the_frame_and_centres_the_short_one():
    img = np.zeros((28, 28), np.uint8)
    img[4:14, 15:26] = 255  # 10 rows x 11 columns, off-centre: the columns are longer
    out = fill_frame(img)
    assert out.shape == (32, 32) and out.dtype == np.uint8
    rows, cols = np.nonzero(out.any(1))[0], np.nonzero(out.any(0))[0]
    assert (cols[0], cols[-1]) == (2, 29)  # the longer side fills the 28-pixel frame
    h = rows[-1] - rows[0] + 1
    assert 24 <= h <= 27  # the aspect ratio is kept (~10 / 11 of 28, 4x-upsampled box)
    assert rows[0] == 2 + (28 - h) // 2  # the shorter side centred, rounded to the top
    assert not fill_frame(np.zeros((28, 28), np.uint8)).any()


def test_the_half_box_rule_centres_the_box_of_the_pixels_of_at_least_half_ink():
    img = np.zeros((28, 28), np.uint8)
    img[6:11, 4:10] = 200  # 5 x 6 of dark ink
    img[6:11, 10:16] = 127  # faint ink beside it: outside the box, but kept
    out = centre_by_half_box(img)
    dark = out >= 128
    rows, cols = np.nonzero(dark.any(1))[0], np.nonzero(dark.any(0))[0]
    assert (rows[0], rows[-1]) == (13, 17)  # (32 - 5) // 2 = 13
    assert (cols[0], cols[-1]) == (13, 18)  # (32 - 6) // 2 = 13
    assert (out == 127).sum() == 30 and out.astype(int).sum() == img.astype(int).sum()
    assert np.array_equal(centre_by_half_box(img // 2)[2:30, 2:30], img // 2)  # none dark
    far = np.zeros((28, 28), np.uint8)
    far[0, 0], far[27, 27] = 255, 50  # the faint pixel would land off the canvas
    with pytest.raises(ValueError, match="does not fit the canvas"):
        centre_by_half_box(far)
