"""One interface for every way of turning people in a frame into SMPL bodies.

The pipeline and the demos only see :class:`Estimator`; which implementation ran (``pmrr`` with a
checkpoint, or the offline ``landmark-fit`` default) is recorded in every output through
``Estimator.name`` and ``BodyEstimates.estimator``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

import numpy as np

from pmrr_model.crop import DEFAULT_RESCALE

if TYPE_CHECKING:
    from pmrr_model.body_model import BodyModel
    from pmrr_model.estimators.sparse_joints import SparseJoints


@dataclass
class BodyEstimates:
    """SMPL bodies for N people (one row per person box), all numpy, camera frame of the image.

    Coordinates: ``transl_m`` and ``joints3d_m`` are in the full image's camera frame (x right,
    y down, z forward, metres) for a pinhole camera with ``focal_px`` at the image centre;
    ``joints2d_px`` are pixel coordinates in the full image. ``joints3d_m`` holds the 49 joints of
    ``pmrr_model.constants.JOINT_NAMES`` (24 SMPL-style ones from index 25).
    """

    global_orient: np.ndarray  # (N, 3) axis-angle, camera frame
    body_pose: np.ndarray  # (N, 69) axis-angle
    betas: np.ndarray  # (N, 10)
    cam: np.ndarray  # (N, 3) weak-perspective [s, tx, ty] of the person's 224 crop
    transl_m: np.ndarray  # (N, 3) body-root translation, camera frame
    joints3d_m: np.ndarray  # (N, 49, 3) camera frame (translation applied)
    joints2d_px: np.ndarray  # (N, 49, 2)
    vertices_m: np.ndarray  # (N, V, 3) camera frame (translation applied)
    confidence: np.ndarray  # (N,) in [0, 1]
    focal_px: float
    estimator: str  # e.g. "landmark-fit" or "pmrr:<checkpoint id>"
    assets: str  # AssetSet.describe(), e.g. "standin:3f2a..."
    #: (N, 49) bool, per joint: seen in this frame (True) or inferred by the estimator's model
    #: and priors (False). None: the caller applies the in-view rule
    #: (:func:`joints_in_view`: the joint projects inside the person's box and the image).
    observed: np.ndarray | None = None
    #: (N, 2, 3) centres (camera frame, metres) of hands seen apart from the body's
    #: landmarks (:mod:`pmrr_model.detection.hands`), NaN rows where none; None: not looked for.
    hands_m: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.betas.shape[0])

    def take(self, rows: np.ndarray) -> BodyEstimates:
        """The estimates of ``rows`` (indices) only."""
        picked = {
            f.name: value[rows]
            for f in fields(self)
            if isinstance(value := getattr(self, f.name), np.ndarray)
        }
        return replace(self, **picked)


def joints_in_view(
    joints2d_px: np.ndarray, boxes_xyxy: np.ndarray, image_size_hw: tuple[int, int]
) -> np.ndarray:
    """(N, J, 2) projected joints, (N, 4) person boxes -> (N, J) bool: inside the box and the
    image. What an estimator without per-joint evidence (the PMRR network regresses every joint
    from the crop) can say about which joints the camera saw."""
    p = np.asarray(joints2d_px, np.float64)
    box = np.asarray(boxes_xyxy, np.float64).reshape(-1, 1, 4)
    height, width = image_size_hw
    x, y = p[..., 0], p[..., 1]
    return (
        (x >= np.maximum(box[..., 0], 0))
        & (x <= np.minimum(box[..., 2], width))
        & (y >= np.maximum(box[..., 1], 0))
        & (y <= np.minimum(box[..., 3], height))
    )


class Estimator(ABC):
    """Frames + person boxes in, SMPL bodies out. Implementations are batched per call.

    ``body_model``, ``joints49`` (its 49 joints without vertices) and ``rescale`` (the margin of
    the person crops, which the ``cam`` column refers to) let the pipeline turn parameters it
    interpolates between estimated frames into rows like the estimator's own
    (:func:`tasks.inference.fill_between`)."""

    name: str = "estimator"
    body_model: BodyModel
    joints49: SparseJoints
    rescale: float = DEFAULT_RESCALE

    @abstractmethod
    def estimate(
        self,
        frame_rgb: np.ndarray,
        boxes_xyxy: np.ndarray,
        track_ids: np.ndarray | None = None,
        with_vertices: bool = True,
    ) -> BodyEstimates:
        """``frame_rgb`` (H, W, 3) uint8; ``boxes_xyxy`` (N, 4) pixels. ``track_ids`` lets
        temporal implementations warm-start each person from its previous frame.
        ``with_vertices=False``: the caller keeps no mesh, so ``vertices_m`` may be left empty
        (N, 0, 3) and only the joints evaluated (skinning every vertex is costly on CPU)."""

    def estimate_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
        with_vertices: bool = True,
    ) -> list[BodyEstimates]:
        """Several frames at once; implementations that batch on a device override this."""
        ids = track_ids or [None] * len(frames_rgb)
        return [
            self.estimate(f, b, t, with_vertices=with_vertices)
            for f, b, t in zip(frames_rgb, boxes_xyxy, ids, strict=True)
        ]

    def observe_batch(
        self,
        frames_rgb: list[np.ndarray],
        boxes_xyxy: list[np.ndarray],
        track_ids: list[np.ndarray] | None = None,
    ) -> object:
        """The part of :meth:`estimate_batch` that reads the images and not the estimator's
        temporal state, so that the pipeline can observe the next chunk while this one is fitted
        (:func:`tasks.inference.estimate_sequence`); :meth:`estimate_observed` finishes it.
        ``estimate_observed(observe_batch(f, b, t))`` equals ``estimate_batch(f, b, t)``. By
        default nothing is done ahead."""
        return frames_rgb, boxes_xyxy, track_ids

    def estimate_observed(self, observed, with_vertices: bool = True) -> list[BodyEstimates]:
        """:meth:`estimate_batch` on what :meth:`observe_batch` returned."""
        return self.estimate_batch(*observed, with_vertices=with_vertices)

    def reset(self) -> None:  # noqa: B027 - optional hook
        """Forget temporal state (called at shot cuts)."""

    def reset_observation(self) -> None:  # noqa: B027 - optional hook
        """Forget what :meth:`observe_batch` carried from chunk to chunk (called before the
        first chunk of a run of frames is observed, so that a run's results do not depend on
        what the process observed before it)."""
