import torch

from equirestore.groups.rotation import centroid
from equirestore.groups.translation import shift
from paper.ceiling import centre_on_centroid, probe_network, residual_labels


def test_residual_labels_number_the_window_row_major_and_mark_the_rest():
    shift = torch.tensor([[0, 0], [-1, -1], [1, 1], [-1, 1], [2, 0], [0, -3]])
    assert residual_labels(shift, 1).tolist() == [4, 0, 8, 2, -1, -1]
    assert residual_labels(shift, 2).tolist()[:5] == [12, 6, 18, 8, 22]


def test_probe_network_takes_any_image_size():
    net = probe_network(3, 25).eval()
    assert net(torch.zeros(2, 3, 16, 16)).shape == (2, 25)
    assert net(torch.zeros(2, 3, 40, 40)).shape == (2, 25)


def test_centring_on_the_centroid_puts_it_mid_canvas_and_forgets_whole_shifts():
    torch.manual_seed(0)
    x = torch.zeros(3, 1, 16, 16, dtype=torch.float64)
    x[:, :, 2:7, 9:12] = torch.rand(3, 1, 5, 3, dtype=torch.float64)  # off-centre blobs
    centred = centre_on_centroid(x)
    # linear interpolation blurs the mass a little, which moves a circular mean by a few
    # thousandths of a pixel
    middle = torch.full((3, 2), 7.5, dtype=torch.float64)
    assert torch.allclose(centroid(centred), middle, atol=0.01)
    assert not torch.allclose(centroid(x), middle, atol=1.0)
    moved = shift(x, torch.tensor([[5, -7], [-8, 3], [0, 9]]))
    assert torch.allclose(centre_on_centroid(moved), centred, atol=1e-12)
