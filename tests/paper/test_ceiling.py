import torch

from paper.ceiling import probe_network, residual_labels


def test_residual_labels_number_the_window_row_major_and_mark_the_rest():
    shift = torch.tensor([[0, 0], [-1, -1], [1, 1], [-1, 1], [2, 0], [0, -3]])
    assert residual_labels(shift, 1).tolist() == [4, 0, 8, 2, -1, -1]
    assert residual_labels(shift, 2).tolist()[:5] == [12, 6, 18, 8, 22]


def test_probe_network_takes_any_image_size():
    net = probe_network(3, 25).eval()
    assert net(torch.zeros(2, 3, 16, 16)).shape == (2, 25)
    assert net(torch.zeros(2, 3, 40, 40)).shape == (2, 25)
