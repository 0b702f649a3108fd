import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from equirestore.cli import build_parser, main
from equirestore.groups.translation import shift
from tests.restore.helpers import bbox_blobs, centred_blobs, framed_noise


@pytest.mark.parametrize("cmd", ["train-restorer", "train-classifier", "evaluate", "restore"])
def test_every_subcommand_has_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([cmd, "--help"])
    assert e.value.code == 0
    assert "usage: equirestore " + cmd in capsys.readouterr().out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "equirestore.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "train-restorer" in out


def _write_pngs(folder, images):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        arr = (img.clamp(0, 1) * 255).round().byte()
        arr = arr[0].numpy() if arr.shape[0] == 1 else arr.permute(1, 2, 0).numpy()
        Image.fromarray(arr).save(folder / f"img{i}.png")


def test_restore_files_writes_images_and_shifts(tmp_path):
    x = (centred_blobs(3) * 255).round() / 255
    s = torch.tensor([[2, -3], [0, 7], [-8, 1]])
    _write_pngs(tmp_path / "in", shift(x, s))
    assert (
        main(
            ["restore", str(tmp_path / "in"), "--restorer", "mnist", "--out", str(tmp_path / "out")]
        )
        == 0
    )
    report = json.loads((tmp_path / "out" / "shifts.json").read_text())["images"]
    assert [e["input"] for e in report] == [str(tmp_path / "in" / f"img{i}.png") for i in range(3)]
    assert [e["shift"] for e in report] == s.tolist() and all(e["unique"] for e in report)
    for i in range(3):
        restored = np.asarray(Image.open(tmp_path / "out" / f"img{i}.png"))
        assert np.array_equal(restored, (x[i, 0] * 255).round().byte().numpy())


def test_evaluate_with_an_se2_restorer_reports_angles_and_accuracy_behind_it(tmp_path):
    """The report holds what the library computes on the same test digits: the angle
    rates of the protocol and the classifier's accuracy without and with the restorer."""
    from equirestore.classifiers.models import SmallCNN
    from equirestore.classifiers.training import load_classifier, save_classifier
    from equirestore.restore.hub import load_restorer
    from equirestore.restore.rotation_training import angle_rates, rotated_test_sets
    from tests.conftest import real_dataset

    images, labels = real_dataset("mnist", "test")
    torch.manual_seed(1)
    save_classifier(SmallCNN(), tmp_path / "c.pt", "small-cnn", (1, 32, 32), 10)
    out = tmp_path / "e"
    args = ["evaluate", "--dataset", "mnist", "--restorer", "mnist-se2", "--limit", "40"]
    args += ["--classifier", str(tmp_path / "c.pt"), "--max-scope", "3", "--out", str(out)]
    assert main(args) == 0
    res = json.loads(Path(f"{out}.json").read_text())
    restorer = load_restorer("mnist-se2")
    canvas = images[:40]  # already on the 32 x 32 canvas
    assert res["within_one_bin"] == angle_rates(restorer, canvas, 0, 3)
    classifier, _ = load_classifier(tmp_path / "c.pt")
    rotated, shifted, _ = rotated_test_sets(canvas, 0, 3)
    sets = {"upright": canvas, "rotated": rotated, "rotated_shifted_3px": shifted}
    assert list(res["table"]) == list(sets)
    with torch.no_grad():
        for name, x in sets.items():
            for key, seen in (("w/o", x), ("w/", restorer(x))):
                acc = 100 * float((classifier(seen).argmax(1) == labels[:40]).double().mean())
                assert res["table"][name][key] == round(acc, 2), (name, key)
    assert Path(f"{out}_examples.png").exists()
    assert "angle within one bin" in Path(f"{out}.md").read_text()


def test_a_restorer_that_costs_upright_accuracy_is_warned_about():
    from equirestore.cli.evaluate_rotation import upright_cost

    res = {"within_one_bin": {"upright": 0.8578}}
    res["table"] = {"upright": {"w/o": 97.82, "w/": 94.57}, "rotated": {"w/o": 35.0, "w/": 95.0}}
    warning = upright_cost(res)
    assert warning is not None and "by 3.25 points (97.82% -> 94.57%)" in warning
    assert "85.78% of them within one bin of upright" in warning
    res["table"]["upright"]["w/"] = 97.82
    assert upright_cost(res) is None
    assert upright_cost({"within_one_bin": {"upright": 0.5}}) is None  # no classifier


def test_evaluate_with_a_rotation_restorer_on_a_folder(tmp_path):
    _write_pngs(tmp_path / "in", centred_blobs(6).float())
    out = tmp_path / "e"
    args = [
        "evaluate",
        "--folder",
        str(tmp_path / "in"),
        "--grayscale",
        "--restorer",
        "mnist-rotation",
    ]
    assert main([*args, "--out", str(out)]) == 0
    res = json.loads(Path(f"{out}.json").read_text())
    assert res["group"] == "rotation" and res["n_test"] == 6 and "table" not in res
    assert set(res["within_one_bin"]) == {"upright", "rotated", "rotated_shifted_8px"}


@pytest.mark.parametrize("name", ["mnist-rotation", "mnist-se2"])
def test_restore_files_with_rotation_and_se2_restorers_reports_angles_and_ties(
    tmp_path, capsys, name
):
    """The command writes what the library computes on the decoded images: the same
    estimates, the same restored pixels (8-bit), and a blank image flagged as a tie."""
    from equirestore.groups.rotation import rotate
    from equirestore.restore.hub import load_restorer

    blobs = centred_blobs(3).float()
    turned = shift(rotate(blobs, torch.tensor([25.0, -100.0, 170.0])), torch.tensor([[3, -2]] * 3))
    _write_pngs(tmp_path / "in", torch.cat([turned, torch.zeros(1, 1, 32, 32)]))
    out = tmp_path / "out"
    assert main(["restore", str(tmp_path / "in"), "--restorer", name, "--out", str(out)]) == 0
    assert "WARNING: 1 image(s) have no unique estimate" in capsys.readouterr().out
    report = json.loads((out / "shifts.json").read_text())
    assert "counter-clockwise" in report["convention"]
    entries = report["images"]
    assert [e["unique"] for e in entries] == [True, True, True, False]
    restorer = load_restorer(name)
    decoded = (
        torch.stack(
            [
                torch.from_numpy(np.asarray(Image.open(tmp_path / "in" / f"img{i}.png")))
                for i in range(4)
            ]
        )[:, None].float()
        / 255
    )
    with torch.inference_mode():
        g, restored = restorer.estimate(decoded), restorer(decoded)
    angle = g[1] if name == "mnist-se2" else g
    assert [e["angle"] for e in entries] == angle.tolist() and entries[3]["angle"] == 0.0
    if name == "mnist-se2":
        assert [e["shift"] for e in entries] == g[0].tolist()
    else:
        assert all("shift" not in e for e in entries)
    for i in range(4):
        written = np.asarray(Image.open(out / f"img{i}.png"))
        assert np.array_equal(written, (restored[i, 0].clamp(0, 1) * 255).round().byte().numpy())


def test_restore_bad_inputs_leave_no_output(tmp_path, capsys):
    _write_pngs(tmp_path / "in", centred_blobs(2))
    (tmp_path / "in" / "readme.txt").write_text("x")
    assert (
        main(
            ["restore", str(tmp_path / "in"), "--restorer", "mnist", "--out", str(tmp_path / "out")]
        )
        == 2
    )
    assert "not images" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    Image.new("L", (28, 28)).save(tmp_path / "small.png")
    assert (
        main(
            [
                "restore",
                str(tmp_path / "small.png"),
                "--restorer",
                "mnist",
                "--out",
                str(tmp_path / "out2"),
            ]
        )
        == 2
    )
    assert "32x32" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_train_restorer_on_an_image_folder(tmp_path):
    _write_pngs(tmp_path / "train", framed_noise(64, size=12, border=2))
    out = tmp_path / "r.pt"
    assert (
        main(
            [
                "train-restorer",
                "--folder",
                str(tmp_path / "train"),
                "--out",
                str(out),
                "--report",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    rec = json.loads((tmp_path / "r.json").read_text())
    assert rec["train_rates"]["exact"] == 1.0
    from equirestore import load_restorer

    r = load_restorer(out)
    assert r.input_shape == (3, 12, 12)


def test_train_restorer_needs_exactly_one_source(tmp_path, capsys):
    assert main(["train-restorer", "--out", str(tmp_path / "r.pt")]) == 2
    assert "exactly one of --dataset NAME or --folder DIR" in capsys.readouterr().err


def test_restore_streams_in_batches_with_workers(tmp_path):
    x = (centred_blobs(5) * 255).round() / 255
    s = torch.tensor([[1, 1], [-4, 2], [0, 0], [9, -9], [3, 5]])
    _write_pngs(tmp_path / "in", shift(x, s))
    args = ["restore", str(tmp_path / "in"), "--restorer", "mnist", "--out", str(tmp_path / "o")]
    assert main([*args, "--batch-size", "2", "--workers", "2"]) == 0
    report = json.loads((tmp_path / "o" / "shifts.json").read_text())["images"]
    assert [e["shift"] for e in report] == s.tolist()
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        ["shifts.json"] + [f"img{i}.png" for i in range(5)]
    )


def test_restore_undecodable_file_mid_stream_leaves_no_output(tmp_path, capsys):
    _write_pngs(tmp_path / "in", centred_blobs(4))
    good = (tmp_path / "in" / "img0.png").read_bytes()
    (tmp_path / "in" / "img3.png").write_bytes(good[:60])  # header intact, pixels truncated
    args = ["restore", str(tmp_path / "in"), "--restorer", "mnist", "--out", str(tmp_path / "o")]
    assert main([*args, "--batch-size", "2", "--workers", "0"]) == 2
    assert "img3.png" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in"]  # no staging folder left behind


def test_check_affine_command(capsys):
    conv = '{"in_channels": 1, "out_channels": 2, "kernel_size": 3, "padding": 1%s}'
    args = ["check-affine", "--module", "torch.nn:Conv2d", "--shape", "1,5,5", "--kwargs"]
    assert main([*args, conv % ', "padding_mode": "circular"']) == 0
    assert "translation-equivariant (Theorem 3.4): True" in capsys.readouterr().out
    assert main([*args, conv % ""]) == 1
    out = capsys.readouterr().out
    assert "circular filter (Definition 3.5): False" in out and "a circular filter needs" in out
    assert main(["check-affine", "--module", "torch.nn"]) == 2
    assert "package.module:callable" in capsys.readouterr().err


def test_check_aperiodic_and_construct_commands(tmp_path, capsys):
    from tests.conftest import real_dataset

    real_dataset("mnist", "test")
    assert main(["check-aperiodic", "--dataset", "mnist", "--split", "test"]) == 0
    assert "aperiodic = True" in capsys.readouterr().out
    out = tmp_path / "built.pt"
    args = ["construct-restorer", "--dataset", "mnist", "--limit", "40", "--out", str(out)]
    assert main(args) == 0
    assert "strict             True" in capsys.readouterr().out
    from equirestore import load_restorer

    r = load_restorer(out)
    x = real_dataset("mnist", "test")[0][:40]
    s = torch.tensor([[3, -4]]).expand(40, 2)
    assert torch.equal(r.estimate(shift(x, s)), s)


def test_train_restorer_names_what_it_cannot_restore_and_fails_below_min_exact(tmp_path, capsys):
    x = centred_blobs(30)
    x = torch.cat([x, torch.zeros(10, 1, 32, 32), shift(x[:5], torch.tensor([1, 1]))])
    _write_pngs(tmp_path / "train", x)
    args = ["train-restorer", "--folder", str(tmp_path / "train"), "--grayscale"]
    args += ["--estimator", "moment", "--out", str(tmp_path / "r.pt")]
    assert main([*args, "--min-exact", "0.95"]) == 1
    captured = capsys.readouterr()
    assert "10 blank" in captured.err and "5 translated copies" in captured.err
    assert "WARNING: the restorer is strict on only" in captured.err
    assert "chose 'moment'" in captured.out
    assert main(args) == 0  # without --min-exact: the same warning, status 0
    assert "WARNING" in capsys.readouterr().err


def test_train_restorer_estimator_gated_runs_the_box_and_the_features_before_it(tmp_path, capsys):
    from equirestore import load_restorer
    from equirestore.nn.gated import GatedEstimator

    x = bbox_blobs(40, seed=1)
    x[::4] = shift(x[::4], torch.tensor([1, 0]))  # a quarter off the box rule
    _write_pngs(tmp_path / "train", x)
    out = tmp_path / "r.pt"
    args = ["train-restorer", "--folder", str(tmp_path / "train"), "--grayscale"]
    assert main([*args, "--estimator", "gated", "--epochs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    tried = [line.split()[0] for line in printed.splitlines() if "parameters," in line]
    assert tried == ["box", "features", "gated"]
    chosen = printed.split("chose '")[1].split("'")[0]
    r = load_restorer(out)
    assert isinstance(r.estimator, GatedEstimator) == (chosen == "gated")


@pytest.mark.parametrize("group", ["rotation", "se2"])
def test_train_restorer_trains_rotation_and_se2_restorers_on_a_folder(tmp_path, capsys, group):
    from equirestore import RotationRestorer, SE2Restorer, load_restorer

    _write_pngs(tmp_path / "train", centred_blobs(60).float())
    out = tmp_path / "r.pt"
    args = ["train-restorer", "--folder", str(tmp_path / "train"), "--grayscale"]
    code = main([*args, "--group", group, "--epochs", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert "held-out rotated images" in captured.out
    # one epoch on 54 blobs cannot be good, and the command says so
    assert code == 0 and "WARNING" in captured.err
    kind = {"rotation": RotationRestorer, "se2": SE2Restorer}[group]
    r2 = str(tmp_path / "r2.pt")
    assert isinstance(load_restorer(out), kind)
    assert (
        main([*args, "--group", group, "--epochs", "1", "--min-exact", "0.999", "--out", r2]) == 1
    )


def test_train_restorer_reads_a_white_canvas_for_translation_and_rotation(tmp_path, capsys):
    from equirestore import load_restorer

    x = bbox_blobs(60, seed=0)
    _write_pngs(tmp_path / "train", ((1 - x) * 255).round() / 255)  # dark blobs on white
    args = ["train-restorer", "--folder", str(tmp_path / "train"), "--grayscale"]
    assert main([*args, "--estimator", "box", "--out", str(tmp_path / "t.pt")]) == 0
    printed = capsys.readouterr().out
    assert "border is mostly one colour, (1.000)" in printed and "chose 'box'" in printed
    assert "100.00% of the 60 training images" in printed
    out = str(tmp_path / "r.pt")
    report = tmp_path / "r.json"
    assert (
        main([*args, "--group", "se2", "--epochs", "1", "--out", out, "--report", str(report)]) == 0
    )
    assert "fills the corners it rotates in with it" in capsys.readouterr().out
    assert json.loads(report.read_text())["rotation"]["background"] == [1.0]
    r = load_restorer(out)
    assert r.rotation.background == (1.0,) and r.translation.estimator.config()["kind"] == (
        "background"
    )
