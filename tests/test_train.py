"""Final training: NB201's TinyNetwork (sizes and FLOPs by hand), cutout, a run that learns,
bit-exact resume, the test split of image folders, and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from bench_toolkit.cli import main
from bench_toolkit.data.readers import read_data
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.nn.nb201_network import TinyNetwork
from bench_toolkit.spaces import nb201
from bench_toolkit.spaces.darts import PUBLISHED
from bench_toolkit.train import FinalTraining, recipe_for, resume_training, train_network
from bench_toolkit.train.trainer import cutout

ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
NO_PARAMS = "|skip_connect~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|skip_connect~2|"


def _tiny_params(arch: str, c: int, n: int, classes: int) -> int:
    """NB201's TinyNetwork, counted from its definition: 3x3 stem + BN; per conv edge
    ReLU-Conv-BN (affine); two residual blocks (two 3x3 ReLU-Conv-BN and a 1x1 shortcut); BN; linear."""
    ops = nb201.parse(arch)
    total = 27 * c + 2 * c
    for width in (c, 2 * c, 4 * c):
        per_cell = sum({"nor_conv_3x3": 9, "nor_conv_1x1": 1}.get(op, 0) * width * width + (2 * width if op.startswith("nor_conv") else 0)
                       for op in ops)
        total += n * per_cell
    for c_in, c_out in ((c, 2 * c), (2 * c, 4 * c)):
        total += 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out
    return total + 2 * 4 * c + 4 * c * classes + classes


def test_tiny_network_sizes_follow_its_definition_and_span_nb201s_range():
    for arch in (ALL_CONV, NO_PARAMS, "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|"):
        assert sum(p.numel() for p in TinyNetwork(arch).parameters()) == _tiny_params(arch, 16, 5, 10)
    # the largest and smallest cells of NB201 (all 3x3 convolutions; none at all): 1.53 M and 0.07 M
    assert sum(p.numel() for p in TinyNetwork(ALL_CONV).parameters()) == 1_531_546
    assert sum(p.numel() for p in TinyNetwork(NO_PARAMS).parameters()) == 73_306


def test_flops_are_counted_by_torch_and_match_a_hand_count(tmp_path):
    recipe = recipe_for("nb201", "smoke", {"epochs": 1})  # C = 4, N = 1, 16x16
    run = FinalTraining(NO_PARAMS, recipe, *_digits(recipe))
    c, h, classes = 4, 16, 10
    # only convolutions and the classifier multiply-add: stem, the two residual blocks, the linear layer
    madds = h * h * 3 * c * 9
    for c_in, c_out, size in ((c, 2 * c, h // 2), (2 * c, 4 * c, h // 4)):
        madds += size * size * (c_in * c_out * 9 + c_out * c_out * 9 + c_in * c_out)
    madds += 4 * c * classes
    cost = run.cost()
    assert cost["madds_M"] * 1e6 == pytest.approx(madds) and cost["flops_M"] == pytest.approx(2 * cost["madds_M"])
    assert cost["params_M"] * 1e6 == _tiny_params(NO_PARAMS, c, 1, classes)


def _digits(recipe):
    from bench_toolkit.train.trainer import read_splits

    return read_splits("digits", None, recipe, 0)


def test_cutout_zeroes_one_square_per_image_clipped_at_the_border():
    torch.manual_seed(0)
    out = cutout(torch.ones(200, 3, 16, 16), 8, torch.Generator().manual_seed(1))
    zeros = (out[:, 0] == 0)
    assert (out[:, 0] == out[:, 2]).all()  # the same square in every channel
    counts = zeros.flatten(1).sum(1)
    assert counts.max() == 64 and counts.min() >= 16  # 8x8 inside; a corner keeps at least 4x4
    for image in zeros[:20]:
        rows, cols = image.any(1).nonzero().flatten(), image.any(0).nonzero().flatten()
        assert image[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # one solid rectangle


def test_training_learns_and_resumes_bit_exactly(tmp_path, monkeypatch):
    recipe = recipe_for("nb201", "smoke", {"epochs": 10, "images_per_class": 60})
    straight = train_network(ALL_CONV, recipe, "digits", tmp_path / "straight", seed=1)
    history = pd.read_parquet(tmp_path / "straight" / "history.parquet")
    assert history["lr"].tolist() == pytest.approx([0.1 * (1 + np.cos(np.pi * e / 10)) / 2 for e in range(10)])
    assert straight["test_top1"] > 40  # ten digits: chance is 10 % (measured: 61-63 % at seeds 0-1)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]

    epochs_run = {"n": 0}
    original = FinalTraining.train_epoch

    def killed_after_two(self):
        if epochs_run["n"] == 2:
            raise KeyboardInterrupt
        epochs_run["n"] += 1
        return original(self)

    monkeypatch.setattr(FinalTraining, "train_epoch", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        train_network(ALL_CONV, recipe, "digits", tmp_path / "killed", seed=1)
    monkeypatch.setattr(FinalTraining, "train_epoch", original)
    assert len(pd.read_parquet(tmp_path / "killed" / "history.parquet")) == 2
    with pytest.raises(BenchToolkitError, match="already holds a run; continue it with --resume"):
        train_network(ALL_CONV, recipe, "digits", tmp_path / "killed", seed=1)
    resumed = resume_training(tmp_path / "killed")
    columns = [c for c in history.columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "killed" / "history.parquet")[columns], history[columns],
                                  check_exact=True)
    assert resumed == straight


def test_darts_genotype_trains_with_auxiliary_head_drop_path_and_cutout(tmp_path, capsys):
    out = tmp_path / "darts"
    assert main(["train", "PC_DARTS", "--scale", "smoke", "--epochs", "2", "--out", str(out), "--threads", "1"]) == 0
    assert "multiply-adds" in capsys.readouterr().out
    recipe = recipe_for("darts-cifar", "smoke", {})
    assert (recipe.auxiliary_weight, recipe.drop_path, recipe.cutout, recipe.epochs) == (0.4, 0.2, 16, 600)
    assert pd.read_parquet(out / "history.parquet")["epoch"].tolist() == [1, 2]


def test_an_lchain_architecture_trains_and_reports_the_multiply_adds_of_its_table(tmp_path, capsys):
    from bench_toolkit.nn.lchain_network import MaddsTable
    from bench_toolkit.spaces.lchain import parse_arch

    text = ("LChain(L=2, stages=[[[('sep_conv_3x3', 0)], [('skip_connect', 0), ('sep_conv_3x3', 1)]], "
            "[[('sep_conv_3x3', 0)], [('sep_conv_3x3', 1)]], [[('skip_connect', 0)], [('sep_conv_3x3', 1)]]])")
    out = tmp_path / "lchain"
    assert main(["train", text, "--scale", "smoke", "--epochs", "1", "--out", str(out), "--threads", "1"]) == 0
    final = json.loads((out / "final.json").read_text())
    recipe = recipe_for("lchain-cifar", "smoke", {})
    table = MaddsTable((3, 3, 3), 2, recipe.channels, 10, "cifar", recipe.resolution)
    assert final["madds_M"] == pytest.approx(table(parse_arch(text)) / 1e6)
    assert main(["train", text.replace("L=2", "L=1"), "--scale", "smoke", "--out", str(tmp_path / "bad")]) == 2
    assert "source 0 is not one of its 1 predecessors 1..1" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_bad_training_input_is_one_line_before_anything_is_written(tmp_path, capsys):
    bad = str(PUBLISHED["DARTS_V2"]).replace("dil_conv_3x3", "conv_7x7")
    assert main(["train", bad, "--scale", "smoke", "--out", str(tmp_path / "a")]) == 2
    assert "is not in the DARTS space" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert main(["train", "|nor_conv_3x3~0|+|bad|", "--scale", "smoke", "--out", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()
    assert main(["train", "DARTS_V2", "--recipe", "resnet", "--out", str(tmp_path / "c")]) == 2
    assert "unknown training recipe 'resnet'" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2


def _write_folder(root, split: str, classes=("cat", "dog"), count: int = 3, size: int = 8) -> None:
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / split / cls).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / split / cls / f"{i}.png")


def test_image_folders_serve_their_test_or_val_split(tmp_path):
    _write_folder(tmp_path / "a", "train", count=3)
    _write_folder(tmp_path / "a", "val", count=2)
    assert len(read_data(f"imagefolder:{tmp_path / 'a'}")) == 6
    assert len(read_data(f"imagefolder:{tmp_path / 'a'}", split="test")) == 4  # val/ stands in for test/
    _write_folder(tmp_path / "b", "test", count=2)  # a folder of the test split only (as test.zip)
    assert len(read_data(f"imagefolder:{tmp_path / 'b'}", split=None)) == 4
    _write_folder(tmp_path / "c", "train")  # training images only: never served as test images
    with pytest.raises(BenchToolkitError, match="has no test/ or val/ folder of class folders; give the test images"):
        read_data(f"imagefolder:{tmp_path / 'c'}", split="test")


def test_data_specs_are_stored_absolute_so_resume_works_from_anywhere(tmp_path, monkeypatch):
    _write_folder(tmp_path / "pets", "train", classes=("cat", "dog", "eel"), count=4)
    _write_folder(tmp_path / "pets", "test", classes=("cat", "dog", "eel"), count=2)
    monkeypatch.chdir(tmp_path)
    train_network(ALL_CONV, recipe_for("nb201", "smoke", {"epochs": 1, "resolution": 8, "batch_size": 4}),
                  "imagefolder:pets#cat,eel", tmp_path / "run")  # test images: the folder's own test/, same classes
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    pets = (tmp_path / "pets").resolve()
    assert saved["data"] == f"imagefolder:{pets}#cat,eel"
    monkeypatch.chdir("/")
    assert resume_training(tmp_path / "run")["complete"]  # finished: reads its images by their absolute paths


def _ddp_worker(rank: int, out: str, port: int) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train_network(ALL_CONV, recipe_for("nb201", "smoke", DDP_RECIPE), "digits", out, seed=1)
    torch.distributed.destroy_process_group()


DDP_RECIPE = {"epochs": 3, "images_per_class": 60, "batch_size": 32}


def test_two_process_ddp_on_cpu_follows_the_single_process_run(tmp_path):
    """torchrun's data parallelism (gloo): each process trains on half of every global batch of 32;
    the averaged gradients are the single process's except for BN's per-process batch statistics,
    so the loss curve follows the single-process one closely, not exactly."""
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    torch.multiprocessing.spawn(_ddp_worker, args=(str(tmp_path / "ddp"), port), nprocs=2)
    single = train_network(ALL_CONV, recipe_for("nb201", "smoke", DDP_RECIPE), "digits", tmp_path / "one", seed=1)
    ddp_history = pd.read_parquet(tmp_path / "ddp" / "history.parquet")
    one_history = pd.read_parquet(tmp_path / "one" / "history.parquet")
    assert np.allclose(ddp_history["train_loss"], one_history["train_loss"], rtol=0.05)  # measured: 0.3-2.0 % apart
    assert ddp_history["lr"].tolist() == one_history["lr"].tolist()
    assert abs(pd.read_json(tmp_path / "ddp" / "final.json", typ="series")["params_M"] - single["params_M"]) == 0
