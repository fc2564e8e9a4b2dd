"""Read the seed's pickled ``.npz`` files without letting them run code.

``mesh_downsampling.npz`` stores object arrays of scipy sparse matrices, which numpy can only
read with ``allow_pickle=True`` - i.e. by running whatever the pickle asks for. This loader
unpickles with a whitelist of numpy/scipy classes instead, so a tampered file fails loudly.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np

_ALLOWED_MODULE_PREFIXES = ("numpy", "scipy.sparse", "copyreg", "collections")
_ALLOWED_BUILTINS = {"slice", "complex", "set", "frozenset", "bytearray", "object"}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asked for a class outside the whitelist."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module in ("builtins", "__builtin__") and name in _ALLOWED_BUILTINS) or (
            module,
            name,
        ) == ("_codecs", "encode"):
            return super().find_class(module, name)
        if module.startswith(_ALLOWED_MODULE_PREFIXES):
            return super().find_class(module, name)
        raise UnsafePickleError(f"refusing to load {module}.{name}")


def load_npz_restricted(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, object arrays unpickled through the whitelist."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error})") from error
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                shape, fortran, dtype = read_header(handle)
                if dtype.hasobject:
                    try:
                        data = _RestrictedUnpickler(handle, encoding="latin1").load()
                    except UnsafePickleError as error:
                        raise ValueError(f"{path}: {member}: {error}") from error
                    array = (
                        np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
                    )
                else:
                    count = int(np.prod(shape)) if shape else 1
                    buffer = handle.read(count * dtype.itemsize)
                    array = np.frombuffer(buffer, dtype=dtype, count=count)
                    order = "F" if fortran else "C"
                    array = array.reshape(shape, order=order).copy()
            arrays[member[: -len(".npy")]] = array
    return arrays
