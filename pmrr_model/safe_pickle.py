"""Read the seed's pickled ``.npz`` files without letting them run code.

``mesh_downsampling.npz`` stores object arrays of scipy sparse matrices, which numpy can only
read with ``allow_pickle=True`` - i.e. by calling whatever the pickle names. A pickle is a small
program: every ``GLOBAL``/``STACK_GLOBAL``/``INST`` opcode imports a name and ``REDUCE`` calls
it, so a module-prefix whitelist (``numpy.*``) still lets a file call ``numpy.testing.runstring``
(``exec``) or ``numpy.save`` (write any file). This loader therefore resolves only an explicit
allow-list of exact ``(module, name)`` pairs - the ones real ``mesh_downsampling.npz`` files
contain - and refuses everything else before it is imported.

The allow-list, and why each entry is there:

- numpy array reconstruction: ``_reconstruct`` (numpy 1.x pickles it under ``numpy.core``,
  numpy 2 under ``numpy._core``), ``numpy.ndarray``, ``numpy.dtype`` and ``scalar`` (numpy
  scalars inside a pickled ``__dict__``, e.g. an old scipy's shape entries);
- scipy's csr/csc/coo sparse classes, under the module paths every scipy version used:
  ``scipy.sparse.csr`` (before 1.8), ``scipy.sparse._csr`` (1.8+), and ``scipy.sparse._arrays``
  (the 1.8-1.10 home of the ``*_array`` classes);
- what the pickle protocol itself needs: ``copyreg._reconstructor`` and ``object`` (protocols 0
  and 1; Python 2 spells them ``copy_reg`` and ``__builtin__``) and ``_codecs.encode`` (how
  Python 3 writes ``bytes`` - the array buffers - at protocol 2).

Old module paths resolve to today's objects through the public API (``scipy.sparse.csc_matrix``,
not the deprecated ``scipy.sparse.csc`` shim), so reading an old file imports nothing deprecated.

Besides calls, a pickle can mutate objects with ``BUILD``. Applied to an allowed *class* (rather
than an instance) it would ``setattr`` on e.g. ``csr_matrix`` for the rest of the process, so
``BUILD`` on a type is refused too. That check needs the pure-Python unpickler (the C one offers
no hook); these files are a few arrays, so its speed does not matter.
"""

from __future__ import annotations

import importlib
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """The pickle asked for something outside the allow-list (the message names it)."""


def _numpy_multiarray(name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        try:
            module = importlib.import_module("numpy._core.multiarray")
        except ImportError:  # numpy < 1.26 has no numpy._core
            module = importlib.import_module("numpy.core.multiarray")
        return getattr(module, name)

    return resolve


def _scipy_sparse(name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        import scipy.sparse

        return getattr(scipy.sparse, name)

    return resolve


def _builtin(module: str, name: str) -> Callable[[], Any]:
    def resolve() -> Any:
        return getattr(importlib.import_module(module), name)

    return resolve


def _allow_list() -> dict[tuple[str, str], Callable[[], Any]]:
    allowed: dict[tuple[str, str], Callable[[], Any]] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        for name in ("_reconstruct", "scalar"):
            allowed[(module, name)] = _numpy_multiarray(name)
    allowed[("numpy", "ndarray")] = lambda: np.ndarray
    allowed[("numpy", "dtype")] = lambda: np.dtype
    for kind in ("csr", "csc", "coo"):
        for module in (f"scipy.sparse.{kind}", f"scipy.sparse._{kind}", "scipy.sparse._arrays"):
            for name in (f"{kind}_matrix", f"{kind}_array"):
                if module == "scipy.sparse._arrays" and name.endswith("_matrix"):
                    continue
                if module == f"scipy.sparse.{kind}" and name.endswith("_array"):
                    continue  # the *_array classes never lived in the pre-1.8 modules
                allowed[(module, name)] = _scipy_sparse(name)
    for module in ("copyreg", "copy_reg"):
        allowed[(module, "_reconstructor")] = _builtin("copyreg", "_reconstructor")
    for module in ("builtins", "__builtin__"):
        allowed[(module, "object")] = lambda: object
    allowed[("_codecs", "encode")] = _builtin("_codecs", "encode")
    return allowed


ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = _allow_list()
"""Every ``(module, name)`` a pickle may name, mapped to how it is resolved."""


class _RestrictedUnpickler(pickle._Unpickler):
    """Unpickler that resolves names through :data:`ALLOWED_GLOBALS` only and never ``BUILD``s
    onto a class."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise UnsafePickleError(
                f"refusing to load {module}.{name} (not one of the numpy-array / scipy-sparse "
                "names a mesh_downsampling.npz may contain)"
            )
        return resolve()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing persistent id {pid!r}")

    def _load_build(self) -> None:
        target = self.stack[-2]  # BUILD pops the state; the object it applies to is below
        if isinstance(target, type):
            raise UnsafePickleError(
                f"refusing to set attributes on the class {target.__module__}.{target.__qualname__}"
            )
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = _load_build


def unpickle_restricted(handle: Any, source: str = "<pickle>") -> Any:
    """Unpickle one object from ``handle`` through the allow-list.

    Every failure - a refused name or a malformed stream - is a ``ValueError`` whose message
    starts with ``source`` (the file, and the member inside an archive), so the user knows which
    file to replace.
    """
    try:
        return _RestrictedUnpickler(handle, encoding="latin1").load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{source}: {error}") from error
    except Exception as error:  # a truncated or malformed pickle raises many types
        raise ValueError(
            f"{source}: not a readable pickle ({type(error).__name__}: {error})"
        ) from error


def load_npz_restricted(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz``, object arrays unpickled through the allow-list."""
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
                    data = unpickle_restricted(handle, f"{path}: {member}")
                    array = data if isinstance(data, np.ndarray) else np.asarray(data, dtype=object)
                else:
                    count = int(np.prod(shape)) if shape else 1
                    buffer = handle.read(count * dtype.itemsize)
                    array = np.frombuffer(buffer, dtype=dtype, count=count)
                    order = "F" if fortran else "C"
                    array = array.reshape(shape, order=order).copy()
            arrays[member[: -len(".npy")]] = array
    return arrays
