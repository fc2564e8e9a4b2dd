"""Process-wide caches of the heavy objects (detector, estimator, body model).

They are built once per worker process and reused by every video, instead of being passed
through Prefect (they are not serialisable and take seconds to load). Each cache is keyed by
what the object is made from -- the resolved asset set and the content hash of every file it
loads -- so a worker never keeps using a model whose files were replaced under it.
"""

from __future__ import annotations

from functools import lru_cache


def _digest(path: str | None) -> str | None:
    if not path or "://" in path:
        return path
    from pmrr_model.digest import file_digest

    return file_digest(path)


def assets(data_dir: str | None):
    """The body-model asset set a run uses now (the user's SMPL files or the stand-in)."""
    from pmrr_model.assets import resolve_assets

    return resolve_assets(data_dir)


def detector(
    name: str, config: str | None = None, checkpoint: str | None = None, device: str = "cpu"
):
    return _detector(name, config, _digest(config), checkpoint, _digest(checkpoint), device)


@lru_cache(maxsize=4)
def _detector(name, config, _config_digest, checkpoint, _checkpoint_digest, device):
    from pmrr_model.detection import create_detector

    return create_detector(name, config=config, checkpoint=checkpoint, device=device)


def estimator(
    name: str, checkpoint: str | None, data_dir: str | None, device: str, precision: str = "fp32"
):
    return _estimator(
        name, checkpoint, _digest(checkpoint), data_dir, assets(data_dir), device, precision
    )


@lru_cache(maxsize=4)
def _estimator(name, checkpoint, _checkpoint_digest, data_dir, _assets, device, precision):
    from pmrr_model.estimators.factory import create_estimator

    return create_estimator(
        name=name, checkpoint=checkpoint, data_dir=data_dir, device=device, precision=precision
    )


def body_model(data_dir: str | None):
    return _body_model(assets(data_dir))


def body_joints_fn(data_dir: str | None, chunk: int = 1024):
    """(betas, body_pose, global_orient) numpy rows -> (M, 49, 3) body-frame joints of the run's
    body model (what the estimators add the translation to), in chunks, no autograd. Skins only
    the vertices the joints read (:class:`~pmrr_model.estimators.sparse_joints.SparseJoints`,
    equal to the full body model's joints to float error)."""
    import numpy as np
    import torch

    joints49 = _sparse_joints(assets(data_dir))

    def joints(betas: np.ndarray, body_pose: np.ndarray, global_orient: np.ndarray) -> np.ndarray:
        parts = []
        with torch.no_grad():
            for i in range(0, len(betas), chunk):
                rows = [torch.as_tensor(a[i : i + chunk], dtype=torch.float32)
                        for a in (betas, body_pose, global_orient)]  # fmt: skip
                parts.append(joints49(*rows).numpy().astype(np.float64))
        return np.concatenate(parts) if parts else np.zeros((0, 49, 3))

    return joints


@lru_cache(maxsize=2)
def _sparse_joints(asset_set):
    from pmrr_model.estimators.sparse_joints import SparseJoints

    return SparseJoints(_body_model(asset_set), n_joints=49)


@lru_cache(maxsize=2)
def _body_model(asset_set):
    from pmrr_model.body_model import BodyModel

    return BodyModel(asset_set).eval()


def overlay():
    from pmrr_model.render import render_overlay

    return render_overlay
