"""A restricted unpickler for the official benchmark files: C speed, allowlisted globals only.

torch >= 2.6's safe loader (``weights_only=True``) refuses the numpy scalars of the NAS-Bench-201
files, and even with them allowed it unpickles in pure Python, 15x slower than ``pickle`` (35 s
instead of 2 s for a 37 MB test file; the official v1_1 file is 4.7 GB). This module gives
``torch.load`` the standard library's C unpickler with :meth:`~RestrictedUnpickler.find_class`
limited to :data:`ALLOWED`: containers, numpy scalars and dtypes, and torch's own tensor rebuild
functions. A file naming any other global is refused before that global is ever imported, so a
benchmark file cannot run code it brings with it -- the same guarantee ``weights_only`` gives.
"""

from __future__ import annotations

import _compat_pickle
import pickle
from typing import Any

ALLOWED: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("_codecs", "encode"),  # how protocol-2 pickles spell bytes (numpy scalars' payload)
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "dtype"), ("numpy", "ndarray"),
    *(("numpy.dtypes", f"{kind}DType") for kind in ("Float64", "Float32", "Float16", "Int64", "Int32", "Bool")),
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
    ("torch", "Size"),
})
"""``(module, name)`` pairs a benchmark file may reference."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals in :data:`ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        # protocol-2 pickles use Python 2 names (``__builtin__.set``); judge them by what they load
        if (module, name) in _compat_pickle.NAME_MAPPING:
            checked = _compat_pickle.NAME_MAPPING[(module, name)]
        else:
            checked = (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        if checked not in ALLOWED:
            raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {module}.{name} is not on the benchmark-file allowlist")
        return super().find_class(module, name)


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` with the restricted unpickler (``torch.load`` calls it for file headers)."""
    return RestrictedUnpickler(file, **kwargs).load()


Unpickler = RestrictedUnpickler
"""The name ``torch.load(..., pickle_module=...)`` looks up."""
