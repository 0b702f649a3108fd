import numpy as np

from paper.bbox_folder import centre_by_box


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
