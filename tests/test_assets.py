"""Asset resolution (user files win, incomplete folders fail loudly) and safe reading of the seed's
pickled .npz files."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from pmrr_model.assets import AssetError, resolve_assets
from pmrr_model.body_model import BodyModel
from pmrr_model.network.pmrr import load_downsampling
from pmrr_model.safe_pickle import load_npz_restricted
from tests.synthetic_assets import N_VERTICES, write_smpl_sized_assets


def test_user_folder_is_used_and_recorded(tmp_path):
    write_smpl_sized_assets(tmp_path)
    assets = resolve_assets(tmp_path)
    assert assets.kind == "smpl" and assets.describe().startswith("smpl:")
    assert assets.smpl_dir == tmp_path / "smpl"
    body = BodyModel(assets)
    out = body(torch.zeros(2, 10), torch.zeros(2, 69), torch.zeros(2, 3))
    assert out.vertices.shape == (2, N_VERTICES, 3) and out.joints.shape == (2, 49, 3)


def test_seed_readme_layout_with_j_regressor_folder(tmp_path):
    write_smpl_sized_assets(tmp_path)
    (tmp_path / "J_regressor").mkdir()
    for name in ("J_regressor_extra.npy", "J_regressor_h36m.npy"):
        (tmp_path / name).rename(tmp_path / "J_regressor" / name)
    assert (
        resolve_assets(tmp_path).j_regressor_extra
        == tmp_path / "J_regressor" / "J_regressor_extra.npy"
    )


def test_incomplete_user_folder_names_what_is_missing(tmp_path):
    write_smpl_sized_assets(tmp_path)
    (tmp_path / "mesh_downsampling.npz").unlink()
    with pytest.raises(AssetError, match=r"missing body-model files \['mesh_downsampling'\]"):
        resolve_assets(tmp_path)


def test_missing_smpl_file_is_named(tmp_path):
    with pytest.raises(AssetError, match="smpl"):
        resolve_assets(tmp_path)


def test_corrupt_smpl_file_is_named(tmp_path):
    assets = write_smpl_sized_assets(tmp_path)
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(b"garbage")
    with pytest.raises(AssetError, match="SMPL_NEUTRAL.pkl: cannot be loaded"):
        BodyModel(assets)


def test_downsampling_reads_the_seed_format(tmp_path):
    assets = write_smpl_sized_assets(tmp_path)
    dmap = load_downsampling(assets.mesh_downsampling)
    assert dmap.shape == (431, N_VERTICES)
    assert torch.allclose(dmap.sum(1), torch.ones(431))


def _npz_with_object_array(path, payload) -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|O", "fortran_order": False, "shape": (1,)}
    )
    buffer.write(pickle.dumps(payload, protocol=2))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("D.npy", buffer.getvalue())


class _Exploit:
    def __reduce__(self):
        return (print, ("code ran",))


def test_pickled_code_in_npz_is_refused(tmp_path):
    path = tmp_path / "mesh_downsampling.npz"
    _npz_with_object_array(path, [_Exploit()])
    with pytest.raises(
        ValueError,
        match=r"mesh_downsampling.npz: D.npy: refusing to load (__builtin__|builtins).print",
    ):
        load_npz_restricted(path)


def test_not_a_zip_is_named(tmp_path):
    path = tmp_path / "mesh_downsampling.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match="mesh_downsampling.npz: not a readable .npz"):
        load_downsampling(path)


# ----------------------------------------------------------------------------- identity ----

FILE_NAMES = (
    "smpl/SMPL_NEUTRAL.pkl",
    "smpl_mean_params.npz",
    "mesh_downsampling.npz",
    "J_regressor_extra.npy",
    "J_regressor_h36m.npy",
)


def _fake_data_folder(root, size: int = (1 << 20) + 4096):
    """A complete seed-layout folder of random bytes, each file past the first MiB (resolving
    assets only checks which files exist; the id is about their bytes)."""
    rng = np.random.default_rng(0)
    for name in FILE_NAMES:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return root


@pytest.mark.parametrize("name", FILE_NAMES)
def test_asset_id_covers_bytes_after_the_first_mib(tmp_path, name):
    a = _fake_data_folder(tmp_path / "a")
    b = _fake_data_folder(tmp_path / "b")
    assert resolve_assets(a).asset_id == resolve_assets(b).asset_id  # same bytes, other folder
    content = bytearray((b / name).read_bytes())
    content[(1 << 20) + 100] ^= 0xFF  # one byte past the first MiB, same size
    (b / name).write_bytes(bytes(content))
    assert resolve_assets(a).asset_id != resolve_assets(b).asset_id


def test_asset_id_follows_an_in_place_edit(tmp_path):
    import os

    root = _fake_data_folder(tmp_path)
    before = resolve_assets(root).asset_id
    path = root / "mesh_downsampling.npz"
    stat = path.stat()
    content = bytearray(path.read_bytes())
    content[-1] ^= 0x01
    path.write_bytes(bytes(content))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later edit
    assert resolve_assets(root).asset_id != before


def test_file_digest_is_the_full_sha256_and_memoised(tmp_path, monkeypatch):
    import hashlib

    from pmrr_model import digest

    path = tmp_path / "weights.pt"
    data = np.random.default_rng(1).integers(0, 256, 3 * (1 << 20) + 7, np.uint8).tobytes()
    path.write_bytes(data)
    digest.clear_digest_cache()
    assert digest.file_digest(path) == hashlib.sha256(data).hexdigest()
    opened = []
    monkeypatch.setattr(
        digest, "open", lambda *a, **k: opened.append(a) or open(*a, **k), raising=False
    )
    for _ in range(3):
        assert digest.file_digest(str(path)) == hashlib.sha256(data).hexdigest()
    assert opened == [], "a cached digest was recomputed"
    with pytest.raises(FileNotFoundError):
        digest.file_digest(tmp_path / "missing.pt")
