"""The official NAS-Bench-101 files (``nasbench_only108.tfrecord``, ``nasbench_full.tfrecord``) read
without TensorFlow.

**Framing** (TFRecord): each record is ``length`` (uint64, little endian), the masked CRC-32C of
those 8 bytes (uint32), ``length`` bytes of data, the masked CRC-32C of the data (uint32); both
checks are verified. The mask is TensorFlow's: ``((crc >> 15) | (crc << 17)) + 0xa282ead8``
(mod 2^32). CRC-32C (Castagnoli) by table here; ``google_crc32c`` is used where installed, which is
much faster on the 2 GB file.

**Rows**: each record's data is JSON ``[module_hash, epochs, adjacency, ops, metrics]`` -- the
adjacency as a string of 0/1 read row by row, the ops comma-separated, the metrics a base64
``ModelMetrics`` protocol buffer (``nasbench/lib/model_metrics.proto``), decoded with the protobuf
library from a descriptor built here (no protoc): ``evaluation_data`` (repeated: current_epoch,
training_time, train_accuracy, validation_accuracy, test_accuracy, checkpoint_path),
``trainable_parameters``, ``total_time``.

Anything wrong -- a truncated record, a failed check, malformed JSON or protocol buffer -- is one
line naming the file and the record's byte offset.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_toolkit.errors import BenchToolkitError

_POLY = 0x82F63B78  # CRC-32C, reflected


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    try:
        import google_crc32c

        return google_crc32c.value(data)
    except ImportError:
        crc = 0xFFFFFFFF
        for byte in data:
            crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(byte offset, data)`` of every record of a TFRecord file, both checks verified."""
    with open(path, "rb") as handle:
        while True:
            offset = handle.tell()
            header = handle.read(12)
            if not header:
                return
            if len(header) < 12:
                raise BenchToolkitError(f"'{path}' ends inside a record header at byte {offset}: the file is truncated")
            length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
            if masked_crc(length_bytes) != length_crc:
                raise BenchToolkitError(f"'{path}': the length check of the record at byte {offset} fails; the file is "
                                        "corrupt (download it again)")
            (length,) = struct.unpack("<Q", length_bytes)
            data, footer = handle.read(length), handle.read(4)
            if len(data) < length or len(footer) < 4:
                raise BenchToolkitError(f"'{path}' ends inside the record at byte {offset}: the file is truncated")
            if masked_crc(data) != struct.unpack("<I", footer)[0]:
                raise BenchToolkitError(f"'{path}': the data check of the record at byte {offset} fails; the file is "
                                        "corrupt (download it again)")
            yield offset, data


def write_record(handle: Any, data: bytes) -> None:
    """Append one record in the TFRecord framing (the format :func:`records` reads)."""
    length = struct.pack("<Q", len(data))
    handle.write(length + struct.pack("<I", masked_crc(length)) + data + struct.pack("<I", masked_crc(data)))


def _metrics_classes() -> tuple[type, type]:
    """``ModelMetrics`` and ``EvaluationData`` message classes from a descriptor built in Python."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="bench_toolkit_nasbench_model_metrics.proto", package="nasbench",
                                             syntax="proto2")
    F = descriptor_pb2.FieldDescriptorProto
    evaluation = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(("current_epoch", "training_time", "train_accuracy", "validation_accuracy",
                                   "test_accuracy"), start=1):
        evaluation.field.add(name=name, number=number, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    evaluation.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    metrics = fdp.message_type.add(name="ModelMetrics")
    metrics.field.add(name="evaluation_data", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                      type_name=".nasbench.EvaluationData")
    metrics.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    metrics.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.ModelMetrics")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("nasbench.EvaluationData")))


@dataclass(frozen=True)
class Row:
    """One record: a cell trained for ``epochs`` epochs, one repeat."""

    module_hash: str
    epochs: int
    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]
    trainable_parameters: int
    evaluations: tuple[dict[str, float], ...]  # per evaluation: current_epoch, training_time, *_accuracy

    @property
    def final(self) -> dict[str, float]:
        """The evaluation at the end of training (the last one)."""
        return self.evaluations[-1]


def rows(path: str | Path) -> Iterator[Row]:
    """Every row of an official NB101 file, in file order."""
    from google.protobuf.message import DecodeError

    path = Path(path)
    model_metrics, _ = _metrics_classes()
    for offset, data in records(path):
        try:
            module_hash, epochs, adjacency, ops, encoded = json.loads(data.decode("utf-8"))
            n = int(round(len(adjacency) ** 0.5))
            if n * n != len(adjacency) or set(adjacency) - {"0", "1"}:
                raise ValueError(f"adjacency '{adjacency[:20]}' is not a square 0/1 matrix")
            matrix = tuple(tuple(int(c) for c in adjacency[r * n:(r + 1) * n]) for r in range(n))
            metrics = model_metrics.FromString(base64.b64decode(encoded, validate=True))
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, binascii.Error) as error:
            raise BenchToolkitError(f"'{path}': the record at byte {offset} is not an NB101 row "
                                    f"([hash, epochs, adjacency, ops, metrics]): {error}") from None
        except DecodeError as error:
            raise BenchToolkitError(f"'{path}': the metrics of the record at byte {offset} are not a ModelMetrics "
                                    f"protocol buffer ({type(error).__name__}: {error})") from None
        evaluations = tuple({"current_epoch": e.current_epoch, "training_time": e.training_time,
                             "train_accuracy": e.train_accuracy, "validation_accuracy": e.validation_accuracy,
                             "test_accuracy": e.test_accuracy} for e in metrics.evaluation_data)
        yield Row(str(module_hash), int(epochs), matrix, tuple(str(ops).split(",")), int(metrics.trainable_parameters),
                  evaluations)
