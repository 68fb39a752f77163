"""ImageNet-layout folders read as training goes: the standard views, their determinism, the
per-process slice of a batch, the layout check, and a smoke training through the CLI."""

from __future__ import annotations

import io
import math
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from bench_toolkit.cli import main
from bench_toolkit.data.streaming import (
    IMAGENET_MEAN, IMAGENET_STD, StreamedImages, random_resized_crop_box, eval_view, training_view,
)
from bench_toolkit.errors import BenchToolkitError


def _jpeg(width: int, height: int, colour=(200, 30, 90), seed: int | None = None) -> bytes:
    if seed is None:
        image = Image.new("RGB", (width, height), colour)
    else:
        image = Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless, so pixel values can be checked exactly
    return buffer.getvalue()


def _imagenet_zip(path, splits=("train", "val"), classes=("n01440764", "n01443537", "n01484850"), per_class=4):
    with zipfile.ZipFile(path, "w") as archive:
        for split in splits:
            for c, wnid in enumerate(classes):
                for i in range(per_class):
                    size = (40 + 7 * i, 32 + 5 * c)  # mixed sizes, as ImageNet's
                    archive.writestr(f"{split}/{wnid}/{wnid}_{i}.JPEG", _jpeg(*size, seed=100 * c + i))
    return path


def test_random_resized_crops_stay_in_the_image_with_the_areas_and_ratios_asked():
    rng = np.random.default_rng(0)
    for _ in range(500):
        left, top, w, h = random_resized_crop_box(400, 300, rng)
        assert 0 <= left and 0 <= top and left + w <= 400 and top + h <= 300
        assert 0.08 * 0.9 <= w * h / (400 * 300) <= 1.0 + 1e-9
        assert 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05  # rounding to whole pixels
    # a strip no crop of ratio 4/3 at most fits into: the centre crop of the clamped ratio
    assert random_resized_crop_box(1000, 10, np.random.default_rng(1)) == (493, 0, 13, 10)


def test_test_view_is_the_centre_crop_after_resizing_the_shorter_side():
    solid = eval_view(_jpeg(300, 200), 224)
    assert solid.shape == (3, 224, 224)
    expected = (torch.tensor([200, 30, 90]).view(3, 1, 1) / 255 - IMAGENET_MEAN) / IMAGENET_STD
    assert torch.allclose(solid, expected.expand(3, 224, 224), atol=1e-5)
    # left half black, right half white: the crop is centred, so the edge stays in the middle column
    array = np.zeros((200, 300, 3), dtype=np.uint8)
    array[:, 150:] = 255
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    view = eval_view(buffer.getvalue(), 224)[0]
    assert view[:, :100].max() < view[:, 124:].min()
    row = view[112]
    assert abs(int((row > row.mean()).float().argmax()) - 112) <= 1


def test_training_views_are_random_but_reproducible():
    data = _jpeg(120, 90, seed=3)
    a, b = training_view(data, 64, np.random.default_rng(5)), training_view(data, 64, np.random.default_rng(5))
    assert a.shape == (3, 64, 64) and torch.equal(a, b)
    assert not torch.equal(a, training_view(data, 64, np.random.default_rng(6)))


def test_streamed_folders_read_the_imagenet_layout_and_slice_batches_for_each_process(tmp_path):
    path = _imagenet_zip(tmp_path / "imagenet.zip")
    train = StreamedImages(path, "train", 32, threads=2)
    assert train.classes == ("n01440764", "n01443537", "n01484850") and len(train) == 12
    index = torch.arange(8)
    full = train.train_batch(index, torch.Generator().manual_seed(0))
    half = train.train_batch(index, torch.Generator().manual_seed(0), slice(4, 8))
    assert full.shape == (8, 3, 32, 32) and torch.equal(full[4:], half)  # the same draws, decoded in part
    test = StreamedImages(path, "test", 32)  # val/ serves as the test split
    assert test.test_batch(torch.arange(3)).shape == (3, 3, 32, 32)
    assert len(StreamedImages(path, "train", 32, per_class=2)) == 6
    with pytest.raises(BenchToolkitError, match="no val/ or test/ folder of class folders; expected the ImageNet layout"):
        StreamedImages(_imagenet_zip(tmp_path / "train_only.zip", splits=("train",)), "test", 32)


def test_imagenet_recipe_trains_from_an_imagenet_folder(tmp_path, capsys):
    path = _imagenet_zip(tmp_path / "imagenet.zip")
    out = tmp_path / "run"
    argv = ["train", "DARTS_V2", "--recipe", "darts-imagenet", "--scale", "smoke", "--epochs", "1",
            "--data", f"imagefolder:{path}", "--set", "resolution=32", "--set", "batch_size=4", "--out", str(out),
            "--threads", "1"]
    assert main(argv) == 0
    assert "multiply-adds" in capsys.readouterr().out
    final = (out / "final.json").read_text()
    assert '"complete": true' in final and math.isfinite(float(final.split('"test_top1": ')[1].split(",")[0]))
    refused = [f"imagefolder:{path}#0-1" if a == f"imagefolder:{path}" else str(tmp_path / "refused") if a == str(out)
               else a for a in argv]
    assert main(refused) == 2
    assert "a #CLASSES selection is not read there" in capsys.readouterr().err
    assert not (tmp_path / "refused" / "config.json").exists()
