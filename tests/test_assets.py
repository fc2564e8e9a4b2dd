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
