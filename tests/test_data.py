"""Dataset readers (official CIFAR python format, image folders, zip), the search split, augmentation."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from bench_toolkit.data.batches import PairedBatches, augment
from bench_toolkit.data.images import balanced_halves
from bench_toolkit.data.readers import read_data
from bench_toolkit.errors import BenchToolkitError


def _write_cifar10(root, per_batch=20):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [(i + k) % 10 for k in range(per_batch)]
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{c}".encode() for c in range(10)]}, f)
    return folder


def test_cifar10_python_format(tmp_path):
    folder = _write_cifar10(tmp_path)
    data = read_data(f"cifar10:{tmp_path}")
    assert data.images.shape == (100, 32, 32, 3) and data.classes[3] == "class3"
    with open(folder / "data_batch_2", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # row layout: 1024 red, then green, then blue values, each row-major 32x32
    first = raw[b"data"][0]
    assert data.images[20, 0, 1, 0] == first[1] and data.images[20, 0, 0, 2] == first[2048]
    assert data.labels[20] == raw[b"labels"][0]
    assert read_data(f"cifar10:{folder}").images.shape == (100, 32, 32, 3)  # the inner folder works too


def test_cifar100_python_format(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    with open(folder / "train", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"fine_labels": [0, 1, 2, 99], b"coarse_labels": [0] * 4}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [f"c{i}".encode() for i in range(100)]}, f)
    data = read_data(f"cifar100:{tmp_path}")
    assert len(data) == 4 and len(data.classes) == 100 and data.labels.tolist() == [0, 1, 2, 99]


def _png_tree(root, classes=("cat", "dog"), per_class=3, prefix="train/"):
    files = {}
    for c, name in enumerate(classes):
        for k in range(per_class):
            pixels = np.full((8, 8, 3), 40 * c + k, dtype=np.uint8)
            path = root / f"{prefix}{name}/{k:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path)
            files[f"{prefix}{name}/{k:04d}.png"] = path
    return files


def test_image_folder_directory_and_zip(tmp_path):
    files = _png_tree(tmp_path / "tree")
    direct = read_data(f"imagefolder:{tmp_path / 'tree'}")
    assert direct.classes == ("cat", "dog") and direct.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert direct.images[4, 0, 0].tolist() == [41, 41, 41]
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, path in files.items():
            z.write(path, name)
    zipped = read_data(f"imagefolder:{archive}")
    assert np.array_equal(zipped.images, direct.images) and np.array_equal(zipped.labels, direct.labels)
    assert len(read_data(f"imagefolder:{archive}", per_class=2)) == 4


def test_wrong_layouts_name_the_expected_one(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchToolkitError, match="official cifar10 python layout: expected cifar-10-batches-py/"):
        read_data(f"cifar10:{tmp_path / 'empty'}")
    _png_tree(tmp_path / "flat", classes=("only",), prefix="")
    with pytest.raises(BenchToolkitError, match=r"expected \[train/\]<class>/<image> with 2 or more classes"):
        read_data(f"imagefolder:{tmp_path / 'flat'}")
    nested = tmp_path / "nested" / "a" / "b"
    nested.mkdir(parents=True)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(nested / "x.png")
    with pytest.raises(BenchToolkitError, match="not directly inside a class folder"):
        read_data(f"imagefolder:{tmp_path / 'nested'}")
    with pytest.raises(BenchToolkitError, match="unknown data spec"):
        read_data("mnist:/x")


def test_embedded_digits_and_the_balanced_search_split():
    data = read_data("digits")
    assert data.images.shape == (1797, 16, 16, 3) and "smoke" in data.name
    train, valid = balanced_halves(data)
    assert abs(len(train) - len(valid)) <= 10
    for c in range(10):
        assert abs(int((train.labels == c).sum()) - int((valid.labels == c).sum())) <= 1
    # the halves partition the data: together they hold every image exactly once
    together = sorted(map(bytes, np.concatenate([train.images, valid.images])))
    assert together == sorted(map(bytes, data.images))
    assert balanced_halves(data)[0].labels.tolist() == train.labels.tolist()  # fixed split, not run-seeded
    small = read_data("digits", per_class=5)
    assert np.bincount(small.labels).tolist() == [5] * 10


def test_augmentation_shifts_by_at_most_four_pixels_and_flips():
    image = torch.zeros(1, 3, 16, 16)
    image[0, :, 8, 5] = 1.0
    g = torch.Generator().manual_seed(0)
    seen_flip = False
    for _ in range(200):
        out = augment(image, g)
        ys, xs = torch.nonzero(out[0, 0], as_tuple=True)
        if len(ys):  # the pixel can be cropped away only if shifted out, which 4 px cannot do here
            assert abs(int(ys[0]) - 8) <= 4
            assert abs(int(xs[0]) - 5) <= 4 or abs(int(xs[0]) - (15 - 5)) <= 4
            seen_flip |= abs(int(xs[0]) - 10) <= 4 and abs(int(xs[0]) - 5) > 4
    assert seen_flip


def test_paired_batches_cover_search_train_once_per_epoch():
    data = read_data("digits", per_class=8)
    train, valid = balanced_halves(data)
    batches = PairedBatches(train, valid, batch_size=8, augment_data=False)
    pairs = list(batches.epoch(torch.Generator().manual_seed(0)))
    assert len(pairs) == len(train) // 8
    seen = torch.cat([t[1] for t, _ in pairs])
    assert len(seen) == (len(train) // 8) * 8
    x, _ = pairs[0][0]
    assert x.shape == (8, 3, 16, 16)
    # normalised by search-train's own statistics: the whole half has mean 0, std 1 per channel
    whole = (batches.train_x - batches.mean) / batches.std
    assert torch.allclose(whole.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(whole.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-4)


def test_a_class_selection_keeps_those_classes_relabelled_in_the_source_order(tmp_path):
    """``SOURCE#CLASSES`` (names, indices, ranges a-b): the images of those classes exactly, labels
    0 .. k-1 in the source's class order, for every reader; two halves of CIFAR-10 make two tasks."""
    from sklearn.datasets import load_digits

    target = load_digits().target
    low = read_data("digits#0-4")
    assert low.classes == ("0", "1", "2", "3", "4") and len(low) == int((target < 5).sum())
    assert np.array_equal(low.labels, target[target < 5])
    assert np.array_equal(low.images, read_data("digits").images[target < 5])
    mixed = read_data("digits#9, 2-3")  # listed out of order: the source's order is kept
    assert mixed.classes == ("2", "3", "9")
    assert np.array_equal(mixed.labels, np.searchsorted([2, 3, 9], target[np.isin(target, [2, 3, 9])]))
    assert np.bincount(read_data("digits#5-9", per_class=4).labels).tolist() == [4] * 5

    _write_cifar10(tmp_path)
    full = read_data(f"cifar10:{tmp_path}")
    half = read_data(f"cifar10:{tmp_path}#class7,1")
    keep = np.isin(full.labels, [1, 7])
    assert half.classes == ("class1", "class7") and np.array_equal(half.images, full.images[keep])
    assert np.array_equal(half.labels, (full.labels[keep] == 7).astype(np.int64))

    _png_tree(tmp_path / "tree", classes=("cat", "dog", "eel"))
    three = read_data(f"imagefolder:{tmp_path / 'tree'}")
    two = read_data(f"imagefolder:{tmp_path / 'tree'}#eel,cat")
    assert two.classes == ("cat", "eel") and two.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.array_equal(two.images, three.images[three.labels != 1])


@pytest.mark.parametrize("selection, message", [
    ("7", "keeps 1 class; a task needs 2 or more classes"),
    ("eleven,3", "'eleven' in 'digits#eleven,3' is not a class of that source; give class names"),
    ("8-12", "indices 0-9"),
    ("", "'' in 'digits#' is not a class"),
])
def test_a_bad_class_selection_is_one_clear_line(selection, message):
    with pytest.raises(BenchToolkitError, match=message):
        read_data(f"digits#{selection}")


def test_two_class_selections_of_one_source_are_two_tasks_and_a_run_keeps_its_selection(tmp_path, monkeypatch):
    """The interleaving studies' fair pair of tasks (one source split by class) loads as two tasks of
    the same image size; a search's config.json keeps the selection behind the absolute path."""
    from bench_toolkit.search.differentiable import config_for, run_supernet_search
    from bench_toolkit.search.multilevel.run import load_tasks

    config = config_for("smoke", {}, {"epochs": 1, "images_per_class": 12, "resolution": 8, "channels": 4,
                                      "batch_size": 8})
    first, second = load_tasks(["digits#0-4", "digits#5-9"], config)
    assert first.num_classes == second.num_classes == 5
    assert first.train_x.shape[1:] == second.train_x.shape[1:]
    assert not any(np.array_equal(a, b) for a in first.train_x[:5].numpy() for b in second.train_x.numpy())

    _png_tree(tmp_path / "tree", classes=("cat", "dog", "eel"), per_class=8)
    monkeypatch.chdir(tmp_path)
    run_supernet_search("darts-v1", config, "imagefolder:tree#cat,eel", None, [0], tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"] == f"imagefolder:{(tmp_path / 'tree').resolve()}#cat,eel"
