"""The restricted unpickler (pmrr_model/safe_pickle.py): real ``mesh_downsampling.npz`` layouts load
exactly, from every pickle protocol and from the module paths old numpy/scipy wrote; a file that
tries to call anything else - even a numpy function - is refused naming the file and the global,
before the call happens. Also checks that pmrr_model reads no other user file with pickle on."""

from __future__ import annotations

import ast
import io
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from pmrr_model.network.pmrr import load_downsampling
from pmrr_model.safe_pickle import UnsafePickleError, load_npz_restricted

PACKAGE = Path(__file__).resolve().parents[1] / "pmrr_model"


# ------------------------------------------------------------------------------ fixtures ----


def seed_layout() -> dict[str, np.ndarray]:
    """Object arrays A, U, D of sparse matrices, as in the seed's mesh_downsampling.npz
    (adjacency, upsampling, downsampling per level), in all three formats the files use."""
    rng = np.random.default_rng(0)

    def random_sparse(rows: int, cols: int, fmt: str) -> sp.spmatrix:
        return sp.random(rows, cols, density=0.05, format=fmt, random_state=rng, dtype=np.float64)

    layout = {}
    for key, fmt in (("A", "csc"), ("U", "csr"), ("D", "coo")):
        array = np.empty(3, dtype=object)
        array[0] = random_sparse(40, 40, fmt)
        array[1] = random_sparse(20, 40, fmt).astype(np.float32)
        array[2] = sp.csr_matrix(random_sparse(10, 20, "csr"))
        layout[key] = array
    return layout


def write_npz_with_pickles(path: Path, members: dict[str, bytes], shape=(3,)) -> Path:
    """An .npz whose members are object arrays with the given raw pickle bytes after the header
    (how numpy writes them), so any pickle - well-formed or crafted - can be tested."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in members.items():
            buffer = io.BytesIO()
            np.lib.format.write_array_header_1_0(
                buffer, {"descr": "|O", "fortran_order": False, "shape": shape}
            )
            buffer.write(payload)
            archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


def legacy_names(payload: bytes) -> bytes:
    """A protocol 0-2 pickle with the module paths numpy 1.x and scipy < 1.8 wrote."""
    payload = payload.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    for kind in ("csr", "csc", "coo"):
        payload = payload.replace(
            f"cscipy.sparse._{kind}\n".encode(), f"cscipy.sparse.{kind}\n".encode()
        )
    return payload


def assert_same_layout(loaded: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert sorted(loaded) == sorted(expected)
    for key, array in expected.items():
        assert loaded[key].dtype == object and loaded[key].shape == array.shape
        for got, want in zip(loaded[key], array, strict=True):
            assert type(got) is type(want) and got.format == want.format
            assert got.shape == want.shape and got.dtype == want.dtype
            assert (got != want).nnz == 0
            np.testing.assert_array_equal(got.toarray(), want.toarray())


# ------------------------------------------------------------------------- what must load ----


def test_seed_layout_saved_by_numpy_loads_exactly(tmp_path):
    expected = seed_layout()
    path = tmp_path / "mesh_downsampling.npz"
    np.savez(path, **expected)
    assert_same_layout(load_npz_restricted(path), expected)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4])
def test_every_pickle_protocol_loads(tmp_path, protocol):
    """Protocols 0-2 (Python 2 and old numpy), 3 (numpy < 2) and 4 (numpy 2's ``np.save``).
    Protocol 5 is not written by numpy into .npy files, and its ``_frombuffer`` is not allowed."""
    expected = seed_layout()
    members = {key: pickle.dumps(value, protocol=protocol) for key, value in expected.items()}
    path = write_npz_with_pickles(tmp_path / "mesh_downsampling.npz", members)
    assert_same_layout(load_npz_restricted(path), expected)


@pytest.mark.parametrize("protocol", [0, 2])
def test_old_numpy_and_scipy_module_paths_load(tmp_path, protocol):
    """Files from numpy 1.x / scipy < 1.8 (the released one is years old) name
    ``numpy.core.multiarray`` and ``scipy.sparse.csc``; both resolve to today's classes."""
    expected = seed_layout()
    members = {}
    for key, value in expected.items():
        payload = legacy_names(pickle.dumps(value, protocol=protocol))
        assert b"numpy.core.multiarray" in payload and b"scipy.sparse._" not in payload
        members[key] = payload
    path = write_npz_with_pickles(tmp_path / "mesh_downsampling.npz", members)
    assert_same_layout(load_npz_restricted(path), expected)


def test_downsampling_matrix_from_the_seed_layout(tmp_path):
    d0 = sp.csc_matrix((np.ones(431), (np.arange(431), np.arange(431))), shape=(431, 500))
    d1 = sp.csc_matrix(np.eye(431))
    downsampling = np.empty(2, dtype=object)
    downsampling[0], downsampling[1] = d0, d1
    path = tmp_path / "mesh_downsampling.npz"
    np.savez(path, A=np.empty(0, object), U=np.empty(0, object), D=downsampling)
    dmap = load_downsampling(path)
    np.testing.assert_array_equal(dmap.numpy(), (d1 @ d0).toarray().astype(np.float32))


# ----------------------------------------------------------------------- what is refused ----


def _text_args(*args: object) -> bytes:
    """Protocol-0 opcodes pushing ``args`` (str, int, list of str, empty dict) after a MARK."""
    out = b"("
    for arg in args:
        if isinstance(arg, str):
            out += b"V" + arg.encode("raw-unicode-escape") + b"\n"
        elif isinstance(arg, int):
            out += b"I" + str(arg).encode() + b"\n"
        elif isinstance(arg, list):
            out += b"(" + b"".join(b"V" + a.encode() + b"\n" for a in arg) + b"l"
        elif arg == {}:
            out += b"(d"
        else:
            raise TypeError(arg)
    return out


def global_reduce(module: str, name: str, *args: object) -> bytes:
    """GLOBAL module.name, then REDUCE with ``args``: a call of any importable function."""
    return b"c" + f"{module}\n{name}\n".encode() + _text_args(*args) + b"tR."


def stack_global_reduce(module: str, name: str, *args: object) -> bytes:
    """The protocol-4 spelling: STACK_GLOBAL from two strings, then REDUCE."""
    strings = b""
    for text in (module, name):
        data = text.encode()
        strings += pickle.SHORT_BINUNICODE + bytes([len(data)]) + data
    return b"\x80\x04" + strings + pickle.STACK_GLOBAL + _text_args(*args) + b"tR."


def inst(module: str, name: str, *args: object) -> bytes:
    """INST: the protocol-0 opcode that imports and calls in one step (no REDUCE)."""
    return _text_args(*args) + b"i" + f"{module}\n{name}\n".encode() + b"."


class _Reduces:
    """An object whose pickle is a call of ``func(*args)``, written by Python's own pickler
    (which names functions by their real module, e.g. ``posix.system``)."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def malicious_payloads(marker: Path) -> list[tuple[str, str, bytes]]:
    """(id, refused global, pickle bytes); each would create ``marker`` if it ran."""
    import os
    import subprocess

    touch = f"touch {marker}"
    write = f"open({str(marker)!r}, 'w').close()"
    cases = [
        ("os.system", "os.system", global_reduce("os", "system", touch)),
        ("posix.system", "posix.system", pickle.dumps(_Reduces(os.system, touch), protocol=2)),
        ("os.system stack-global", "os.system", stack_global_reduce("os", "system", touch)),
        ("os.system inst", "os.system", inst("os", "system", touch)),
        # numpy functions the old numpy.* prefix let through: exec of a string, and file writes
        ("numpy.testing", "numpy.testing.runstring",
         global_reduce("numpy.testing", "runstring", write, {})),
        ("numpy.testing private", "numpy.testing._private.utils.runstring",
         stack_global_reduce("numpy.testing._private.utils", "runstring", write, {})),
        ("numpy.save", "numpy.save", global_reduce("numpy", "save", str(marker), 0)),
        ("builtins.eval", "builtins.eval", global_reduce("builtins", "eval", write)),
        ("builtins.exec", "builtins.exec", global_reduce("builtins", "exec", write)),
        ("__builtin__.eval", "__builtin__.eval", global_reduce("__builtin__", "eval", write)),
        ("builtins.getattr", "builtins.getattr",
         global_reduce("builtins", "getattr", "os", "system")),
        ("subprocess.Popen", "subprocess.Popen",
         pickle.dumps(_Reduces(subprocess.Popen, ["touch", str(marker)]), protocol=4)),
        ("subprocess.check_output", "subprocess.check_output",
         global_reduce("subprocess", "check_output", ["touch", str(marker)])),
        ("copyreg other", "copyreg._reconstructor_evil",
         global_reduce("copyreg", "_reconstructor_evil", touch)),
        ("collections", "collections.OrderedDict", global_reduce("collections", "OrderedDict")),
    ]  # fmt: skip
    return cases


CASE_IDS = [case[0] for case in malicious_payloads(Path("/x"))]


@pytest.mark.parametrize("case", CASE_IDS)
def test_malicious_pickles_are_refused_before_running(tmp_path, case):
    marker = tmp_path / "marker"
    _, refused, payload = next(c for c in malicious_payloads(marker) if c[0] == case)
    path = write_npz_with_pickles(tmp_path / "mesh_downsampling.npz", {"D": payload})
    pattern = rf"{re.escape(str(path))}: D\.npy: refusing to load {re.escape(refused)}\b"
    with pytest.raises(UnsafePickleError, match=pattern) as info:
        load_npz_restricted(path)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match=pattern):
        load_downsampling(path)  # the consumer reports the same
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["mesh_downsampling.npz"], f"the pickle's code ran: {leftovers}"


def test_a_refused_call_inside_a_real_layout_is_refused(tmp_path):
    """The payload hidden as one element of an otherwise genuine object array."""
    marker = tmp_path / "marker"
    array = seed_layout()["D"]
    array[1] = _Reduces(eval, f"open({str(marker)!r}, 'w').close()")
    path = write_npz_with_pickles(
        tmp_path / "mesh_downsampling.npz", {"D": pickle.dumps(array, protocol=4)}
    )
    with pytest.raises(ValueError, match=r"D\.npy: refusing to load builtins\.eval"):
        load_npz_restricted(path)
    assert not marker.exists()


def test_setting_attributes_on_an_allowed_class_is_refused(tmp_path):
    """BUILD applied to a class would monkey-patch scipy for the whole process."""
    payload = b"cscipy.sparse._csr\ncsr_matrix\n(N(dVpatched_by_pickle\nI1\nstb."
    path = write_npz_with_pickles(tmp_path / "mesh_downsampling.npz", {"D": payload})
    with pytest.raises(UnsafePickleError, match=r"D\.npy: refusing to set attributes on the class"):
        load_npz_restricted(path)
    assert not hasattr(sp.csr_matrix, "patched_by_pickle")


def test_malformed_pickle_names_the_file(tmp_path):
    path = write_npz_with_pickles(tmp_path / "mesh_downsampling.npz", {"D": b"\x80\x04garbage"})
    with pytest.raises(ValueError, match=r"mesh_downsampling\.npz: D\.npy: not a readable pickle"):
        load_npz_restricted(path)


# ------------------------------------------------------- no other pickle reads in pmrr_model ----


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            yield (owner.id if isinstance(owner, ast.Name) else None), node.func.attr, node


def _keyword(node: ast.Call, name: str):
    for keyword in node.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def test_pmrr_model_reads_user_files_without_pickle():
    """``np.load`` says ``allow_pickle=False``, ``torch.load`` says ``weights_only=True``, and
    nothing but safe_pickle.py unpickles (the SMPL .pkl is read by smplx, outside this package)."""
    problems = []
    for source in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for owner, attr, node in _calls(tree):
            where = f"{source.relative_to(PACKAGE.parent)}:{node.lineno}"
            if owner in ("np", "numpy") and attr == "load":
                if _keyword(node, "allow_pickle") is not False:
                    problems.append(f"{where}: np.load without allow_pickle=False")
            elif owner == "torch" and attr == "load":
                if _keyword(node, "weights_only") is not True:
                    problems.append(f"{where}: torch.load without weights_only=True")
            elif owner in ("pickle", "joblib", "dill") and attr in ("load", "loads", "Unpickler"):
                if source.name != "safe_pickle.py":
                    problems.append(f"{where}: {owner}.{attr}")
    assert not problems, problems
