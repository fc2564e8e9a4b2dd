"""Process-wide caches of the heavy objects (detector, estimator, body model).

They are built once per worker process and reused by every video, instead of being passed
through Prefect (they are not serialisable and take seconds to load).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4)
def detector(
    name: str, config: str | None = None, checkpoint: str | None = None, device: str = "cpu"
):
    from pmrr_model.detection import create_detector

    return create_detector(name, config=config, checkpoint=checkpoint, device=device)


@lru_cache(maxsize=4)
def estimator(name: str, checkpoint: str | None, data_dir: str | None, device: str):
    from pmrr_model.estimators.factory import create_estimator

    return create_estimator(name=name, checkpoint=checkpoint, data_dir=data_dir, device=device)


@lru_cache(maxsize=2)
def body_model(data_dir: str | None):
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    return BodyModel(resolve_assets(data_dir)).eval()


def overlay():
    from pmrr_model.render import render_overlay

    return render_overlay
