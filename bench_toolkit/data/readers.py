"""Dataset readers: CIFAR python format, image folders (a directory or a .zip), and the embedded
smoke-scale default (scikit-learn's handwritten digits). A DATA SPEC picks one:

``cifar10:PATH``, ``cifar100:PATH`` (``cifar-10-batches-py/`` / ``cifar-100-python/`` or the
folder holding it), ``imagefolder:PATH`` (``PATH/<split>/<class>/*`` or ``PATH/<class>/*``, PATH
a directory or a ``.zip``; the split folder is ``train``, ``test`` or ``val``), ``digits``
(default; 1,797 8x8 images, smoke scale only).

Any of them may end in ``#CLASSES`` to keep some classes only, relabelled 0, 1, ... in the
source's class order: CLASSES is a comma-separated list of class names or indices and index ranges
``a-b`` (both ends included), e.g. ``cifar10:PATH#0-4`` and ``cifar10:PATH#5-9`` split CIFAR-10
into two 5-class tasks, ``imagefolder:train.zip#cat,dog`` keeps two folders.

Search reads the training split; final training also reads the test split (CIFAR's test batch,
an image folder's ``test/`` or ``val/`` folder, or another image folder named on its own).
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath, PurePosixPath

import numpy as np

from bench_toolkit.data.images import ImageSet
from bench_toolkit.errors import BenchToolkitError

DEFAULT_DATA = "digits"
CLASS_MARK = "#"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
SPLITS = ("train", "test", "val")
CIFAR_LAYOUTS = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], "batches.meta", b"label_names", b"labels"),
    "cifar100": ("cifar-100-python", ["train"], "meta", b"fine_label_names", b"fine_labels"),
}
CIFAR_TEST_BATCHES = {"cifar10": ["test_batch"], "cifar100": ["test"]}


def read_cifar(kind: str, path: Path, split: str = "train") -> ImageSet:
    """The training (or test) set of CIFAR-10/100 in the official python (pickle) format."""
    folder, batches, meta_name, names_key, labels_key = CIFAR_LAYOUTS[kind]
    if split != "train":
        batches = CIFAR_TEST_BATCHES[kind]
    root = path if (path / batches[0]).is_file() else path / folder
    missing = [name for name in [*batches, meta_name] if not (root / name).is_file()]
    if missing:
        raise BenchToolkitError(
            f"'{path}' is not in the official {kind} python layout: expected {folder}/ holding "
            f"{', '.join(batches + [meta_name])}; missing {', '.join(missing)}"
        )
    images, labels = [], []
    for name in batches:
        with open(root / name, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[labels_key], dtype=np.int64))
    with open(root / meta_name, "rb") as handle:
        classes = tuple(n.decode() for n in pickle.load(handle, encoding="bytes")[names_key])
    return ImageSet(np.concatenate(images), np.concatenate(labels), classes, kind)


def _decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image_folder(path: Path, per_class: int | None = None, seed: int = 0, split: str | None = "train",
                      selection: str | None = None) -> ImageSet:
    """One subfolder per class, from a directory or a ``.zip``, under a split folder where the
    folder has them. ``split``: ``train`` (``train/`` when present, else the class folders
    themselves), ``test`` (``test/``, else ``val/``; refused when neither exists), or None (a
    folder named for its images alone, e.g. ``test.zip`` holding ``test/<class>/...``: its one
    split folder, or its class folders). ``per_class`` decodes only that many files per class
    (chosen by ``seed``): a smaller view of a large folder without decoding all of it; likewise
    ``selection`` (the ``#CLASSES`` of a data spec) decodes only the classes it keeps."""
    if path.is_file() and zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = [PurePosixPath(n) for n in archive.namelist() if n.lower().endswith(IMAGE_SUFFIXES)]
        read = lambda name: archive.read(str(name))  # noqa: E731
    elif path.is_dir():
        names = [PurePosixPath(p.relative_to(path).as_posix()) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
        read = lambda name: (path / name).read_bytes()  # noqa: E731
    else:
        raise BenchToolkitError(f"'{path}' is neither a directory nor a .zip of class folders")
    present = [s for s in SPLITS if any(len(n.parts) == 3 and n.parts[0] == s for n in names)]
    if split == "train":
        chosen = "train" if "train" in present else None
    elif split is None:
        chosen = present[0] if len(present) == 1 else None
    else:
        chosen = next((s for s in ("test", "val") if s in present), None)
        if chosen is None:
            raise BenchToolkitError(f"'{path}' has no test/ or val/ folder of class folders; "
                                    "give the test images with --test-data")
    if chosen is not None:
        names = [PurePosixPath(*n.parts[1:]) for n in names if n.parts[0] == chosen]
    prefix = PurePosixPath(chosen) if chosen else PurePosixPath()
    by_class: dict[str, list[PurePosixPath]] = {}
    for name in names:
        if len(name.parts) != 2:
            raise BenchToolkitError(
                f"'{path}': image '{prefix / name}' is not directly inside a class folder; expected "
                "the layout [train/]<class>/<image>"
            )
        by_class.setdefault(name.parts[0], []).append(name)
    if len(by_class) < 2:
        raise BenchToolkitError(f"'{path}' holds {len(by_class)} class folder(s); expected [train/]<class>/<image> with 2 or more classes")
    classes = tuple(sorted(by_class))
    name = f"imagefolder:{path.name}"
    if selection is not None:
        name += CLASS_MARK + selection
        classes = tuple(classes[k] for k in select_classes(classes, selection, f"imagefolder:{path}{CLASS_MARK}{selection}"))
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(by_class[cls])
        if per_class is not None:
            files = [files[i] for i in sorted(rng.permutation(len(files))[:per_class])]
        for name in files:
            images.append(_decode(read(prefix / name)))
            labels.append(label)
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise BenchToolkitError(f"'{path}': images differ in size ({sorted(shapes)[:3]}...); resize them to one size first")
    return ImageSet(np.stack(images), np.asarray(labels, dtype=np.int64), classes, name)


def read_digits() -> ImageSet:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels), as 3-channel uint8, upsampled
    2x to 16x16 so the supernet's pooling has room. SMOKE SCALE: for tests and demos only."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = np.round(digits.images * (255 / 16)).astype(np.uint8)
    grey = grey.repeat(2, axis=1).repeat(2, axis=2)
    return ImageSet(np.repeat(grey[..., None], 3, axis=-1), digits.target.astype(np.int64),
                    tuple(str(d) for d in range(10)), "digits (smoke scale)")


def split_class_selection(spec: str) -> tuple[str, str | None]:
    """``SOURCE#CLASSES`` -> ``(SOURCE, CLASSES)``; ``(spec, None)`` where no classes are selected."""
    source, mark, selection = spec.partition(CLASS_MARK)
    return source, (selection if mark else None)


def absolute_spec(spec: str | None) -> str | None:
    """A ``kind:PATH`` spec (a data spec, its ``#CLASSES`` kept, or a benchmark spec) with PATH
    made absolute, so a run directory that stores it resumes from any working directory."""
    return _with_resolved_path(spec, lambda path: path)


def portable_spec(spec: str | None) -> str | None:
    """What of a ``kind:PATH`` spec survives a move to another machine: its kind, the last two
    parts of PATH (the file or folder and the folder holding it, e.g. ``cifar10-jpeg/train.zip``)
    and its ``#CLASSES``. Two specs with the same portable form name the same data laid out under
    another root (a committed run record compared with a user's ``--data``)."""
    return _with_resolved_path(spec, lambda path: PurePosixPath(*path.parts[-2:]))


def _with_resolved_path(spec: str | None, shown: Callable[[Path], PurePath]) -> str | None:
    """``spec`` (``kind:PATH``, ``#CLASSES`` kept) with PATH resolved and then written as ``shown``
    gives it; a spec without a path (``digits``) or None unchanged."""
    if spec is None or ":" not in spec:
        return spec
    source, selection = split_class_selection(spec)
    kind, path = source.split(":", 1)
    return f"{kind}:{shown(Path(path).expanduser().resolve())}" + ("" if selection is None else CLASS_MARK + selection)


def select_classes(classes: Sequence[str], selection: str, spec: str) -> list[int]:
    """The indices, in the source's order, of the classes ``selection`` names (see the module
    docstring); one clear line for a name or index the source lacks, or fewer than two classes."""
    known = {name: k for k, name in enumerate(classes)}
    chosen: set[int] = set()
    for token in (t.strip() for t in selection.split(",")):
        if token in known:
            chosen.add(known[token])
            continue
        low, dash, high = token.partition("-")
        try:
            picked = range(int(low), int(high if dash else low) + 1)
        except ValueError:
            picked = range(0)
        if not picked or picked.start < 0 or picked.stop > len(classes):
            shown = ", ".join(classes[:12]) + (", ..." if len(classes) > 12 else "")
            raise BenchToolkitError(f"'{token}' in '{spec}' is not a class of that source; give class names "
                                    f"({shown}) or indices 0-{len(classes) - 1}, comma-separated")
        chosen.update(picked)
    if len(chosen) < 2:
        raise BenchToolkitError(f"'{spec}' keeps {len(chosen)} class; a task needs 2 or more classes")
    return sorted(chosen)


def read_data(spec: str, per_class: int | None = None, seed: int = 0, split: str | None = "train") -> ImageSet:
    """The training images named by a DATA SPEC (see the module docstring); ``split="test"``
    the source's test split; ``split=None`` a source named for its test images alone (an image
    folder's one split, or its class folders; CIFAR's test batch). The embedded digits have no
    split: every split is all 1,797 images."""
    source, selection = split_class_selection(spec)
    if source == DEFAULT_DATA:
        data = read_digits()
    else:
        kind, sep, raw = source.partition(":")
        if not sep or kind not in (*CIFAR_LAYOUTS, "imagefolder") or not raw:
            raise BenchToolkitError(
                f"unknown data spec '{spec}'; use 'digits', 'cifar10:PATH', 'cifar100:PATH' or 'imagefolder:PATH', "
                f"each optionally ending in {CLASS_MARK}CLASSES"
            )
        path = Path(raw).expanduser()
        if not path.exists():
            raise BenchToolkitError(f"data path '{path}' does not exist; check the path in '{spec}'")
        if kind == "imagefolder":
            return read_image_folder(path, per_class, seed, split, selection)
        data = read_cifar(kind, path, split or "test")
    if selection is not None:
        data = data.with_classes(select_classes(data.classes, selection, spec), f"{data.name}{CLASS_MARK}{selection}")
    return data if per_class is None else data.per_class(per_class, np.random.default_rng(seed))
