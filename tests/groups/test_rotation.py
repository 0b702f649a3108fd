import math

import torch
import torch.nn.functional as F

from equirestore.groups.rotation import centroid, polar_grid, rotate, sample, to_polar


def test_angle_zero_points_right_and_angles_turn_towards_up():
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 4, 7] = 1.0  # right of the centre (4, 4)
    x[0, 0, 1, 4] = 2.0  # above it
    p = to_polar(x, n_radius=4, n_angle=4, r_max=4.0)  # radii 0.5, 1.5, 2.5, 3.5
    # the ring at radius 3 lies between radius bins 2 and 3 (each half of the way)
    torch.testing.assert_close(p[0, 2:, :2], torch.tensor([[0.5, 1.0], [0.5, 1.0]]))
    assert p[0, :, 2].abs().sum() == 0 and p[0, :, 3].abs().sum() == 0


def test_rotation_by_whole_bins_is_a_roll_of_the_polar_image():
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(2, 1, 33, 33, generator=g), 9, 1, 4)
    disc = torch.cartesian_prod(torch.arange(33.0), torch.arange(33.0)).sub(16).norm(dim=1) < 12
    x = (x - x.mean()) * disc.view(1, 1, 33, 33)
    p = to_polar(x, 8, 16, r_max=12)
    for k in (1, 3, -3):
        q = to_polar(rotate(x, torch.full((2,), 360.0 * k / 16)), 8, 16, r_max=12)
        right = (q - torch.roll(p, k, -1)).norm() / p.norm()
        wrong = (q - torch.roll(p, -k, -1)).norm() / p.norm()
        assert right < 0.1 < 0.3 < wrong  # interpolation error vs a wrong sign convention
    q90 = to_polar(rotate(x, torch.full((2,), 90.0)), 8, 16, r_max=12)
    torch.testing.assert_close(q90, torch.roll(p, 4, -1), atol=1e-5, rtol=0)  # exact grid map


def test_rotate_quarter_turn_is_rot90():
    x = torch.rand(3, 2, 7, 7)
    torch.testing.assert_close(
        rotate(x, torch.full((3,), 90.0)), torch.rot90(x, 1, (2, 3)), atol=1e-5, rtol=0
    )


def test_grid_offsets_are_rings_of_the_given_radii():
    drow, dcol = polar_grid((28, 28), 5, 12)
    assert drow.shape == dcol.shape == (5, 12) and drow.dtype == torch.float64
    radius = torch.hypot(drow, dcol)
    torch.testing.assert_close(radius, radius[:, :1].expand(5, 12))  # one radius per ring
    rings = (torch.arange(5.0, dtype=torch.float64) + 0.5) * 14 / 5  # r_max = 28 / 2
    torch.testing.assert_close(radius[:, 0], rings)


def test_centroid_is_shift_equivariant_and_follows_quarter_turns():
    x = torch.zeros(1, 1, 32, 32)
    x[..., 8:20, 10:15] = torch.rand(1, 1, 12, 5)
    c = centroid(x)
    for s in ((0, 1), (5, -7), (16, 16), (31, 3)):
        moved = torch.roll(x, s, (-2, -1))
        expected = torch.remainder(c + torch.tensor(s, dtype=torch.float64), 32)
        torch.testing.assert_close(centroid(moved), expected, rtol=0, atol=1e-9)
    # a quarter turn about the middle (an exact grid map) carries the mean along
    turned = torch.rot90(x, 1, (-2, -1))
    row, col = c[0, 0] - 15.5, c[0, 1] - 15.5
    torch.testing.assert_close(
        centroid(turned)[0], torch.stack([15.5 - col, 15.5 + row]), rtol=0, atol=1e-9
    )


def test_centroid_is_the_float64_circular_mean_without_a_float64_atan():
    # the angle comes from a float32 atan2 plus one float64 correction (onnxruntime has
    # no float64 Atan); it must still be the float64 circular mean
    g = torch.Generator().manual_seed(3)
    x = torch.rand(64, 1, 17, 23, generator=g, dtype=torch.float64) ** 8
    x[:8] *= 1e-30  # faint images: magnitudes far below float32's range
    out = centroid(x)
    for axis, n in ((1, 17), (2, 23)):
        profile = x.sum(1).sum(3 - axis)
        phase = 2 * math.pi * torch.arange(n, dtype=torch.float64) / n
        z = torch.atan2((profile * phase.sin()).sum(1), (profile * phase.cos()).sum(1))
        expected = torch.remainder(z, 2 * math.pi) * n / (2 * math.pi)
        torch.testing.assert_close(out[:, axis - 1], expected, rtol=0, atol=1e-12)


def test_upsample_exports_first_and_still_runs_eagerly():
    """The bicubic weights are cached as plain floats: exporting before any eager call
    (a fresh process) must not leave a traced tensor in the cache."""
    from equirestore.groups import rotation

    rotation._bicubic_weights.cache_clear()

    class Up(torch.nn.Module):
        def forward(self, x):
            return rotation.upsample(x, 2, wrap=True)

    x = torch.rand(3, 1, 12, 10)
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(Up(), (x,), dynamic_shapes={"x": {0: batch}})
    y = torch.rand(5, 1, 12, 10)
    torch.testing.assert_close(program.module()(y), Up()(y), rtol=0, atol=0)
    reference = F.interpolate(
        F.pad(y, (2, 2, 2, 2), mode="circular"), scale_factor=2, mode="bicubic"
    )[..., 4:-4, 4:-4]
    torch.testing.assert_close(Up()(y), reference, rtol=0, atol=1e-6)


def _keys(d: float, a: float = -0.75) -> float:
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a if d < 2 else 0.0


def test_sample_is_bilinear_or_bicubic_zero_outside_or_periodic():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 6, 7, dtype=torch.float64, generator=g)
    rows = torch.tensor([[2.25, 0.5, -0.5, 5.75], [3.0, 1.8, 6.4, -1.2]], dtype=torch.float64)
    cols = torch.tensor([[3.5, 0.25, 4.0, 6.5], [1.1, -0.3, 2.2, 7.9]], dtype=torch.float64)
    taps = {"bilinear": (0, 1), "bicubic": (-1, 0, 1, 2)}
    for mode, offsets in taps.items():
        for wrap in (False, True):
            out = sample(x, rows, cols, wrap, mode)
            ref = torch.zeros_like(out)
            for b in range(2):
                for p in range(4):
                    r, c = rows[b, p].item(), cols[b, p].item()
                    for dr in offsets:
                        for dc in offsets:
                            i, j = math.floor(r) + dr, math.floor(c) + dc
                            if mode == "bilinear":
                                wt = (1 - abs(r - i)) * (1 - abs(c - j))
                            else:
                                wt = _keys(r - i) * _keys(c - j)
                            if wrap:
                                i, j = i % 6, j % 7
                            elif not (0 <= i < 6 and 0 <= j < 7):
                                continue
                            ref[b, :, p] += wt * x[b, :, i, j]
            torch.testing.assert_close(out, ref, atol=1e-12, rtol=0)
            # each sample on its own gives the same bits as in the batch
            assert torch.equal(sample(x[1:], rows[1:], cols[1:], wrap, mode), out[1:])
    far = sample(x, rows + 100, cols, False, "bicubic")
    assert far.abs().sum() == 0


def test_rotate_bicubic_keeps_more_detail_than_bilinear():
    g = torch.Generator().manual_seed(1)
    disc = torch.cartesian_prod(torch.arange(25.0), torch.arange(25.0)).sub(12).norm(dim=1) < 9
    x = torch.rand(4, 1, 25, 25, dtype=torch.float64, generator=g)
    x = F.avg_pool2d(x, 3, 1, 1, count_include_pad=False) * disc.view(1, 1, 25, 25)
    deg = torch.tensor([10.0, 33.0, 71.0, 145.0], dtype=torch.float64)
    err = {}
    for mode in ("bilinear", "bicubic"):  # there and back: what interpolation loses
        back = rotate(rotate(x, deg, mode=mode), -deg, mode=mode)
        err[mode] = (back - x).norm() / x.norm()
    assert err["bicubic"] < 0.7 * err["bilinear"]  # measured: 0.091 against 0.149
