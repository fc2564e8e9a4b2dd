"""The per-person-frame SMPL sequence passed between stages (and persisted by Prefect).

Plain numpy arrays, one row per (frame, track), sorted by frame then track. Vertices are *not*
kept (6890 x 3 floats per row would make memory grow with video length); the renderer recomputes
them from the parameters chunk by chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

ROW_FIELDS = (
    "frame",
    "track_id",
    "shot_id",
    "bbox_px",
    "det_score",
    "global_orient",
    "body_pose",
    "betas",
    "cam",
    "transl_m",
    "joints3d_m",
    "joints2d_px",
    "confidence",
    "joints_observed",
    "hands3d_m",
    "tile_px",
)


@dataclass
class SmplSequence:
    frame: np.ndarray  # (M,) int64
    track_id: np.ndarray  # (M,) int32
    shot_id: np.ndarray  # (M,) int32
    bbox_px: np.ndarray  # (M, 4)
    det_score: np.ndarray  # (M,)
    global_orient: np.ndarray  # (M, 3) axis-angle
    body_pose: np.ndarray  # (M, 69) axis-angle
    betas: np.ndarray  # (M, 10)
    cam: np.ndarray  # (M, 3)
    transl_m: np.ndarray  # (M, 3)
    joints3d_m: np.ndarray  # (M, J, 3)
    joints2d_px: np.ndarray  # (M, J, 2)
    confidence: np.ndarray  # (M,)
    joints_observed: np.ndarray  # (M, J) bool: seen (True) or inferred (False) per joint
    #: (M, 2, 3) centres of hands seen apart from the body (NaN: none); None -> all NaN
    hands3d_m: np.ndarray | None = None
    #: (M, 4) xyxy split-screen tile of the person (:mod:`tasks.layout`); None -> all NaN (one
    #: picture)
    tile_px: np.ndarray | None = None
    focal_px: float = 0.0
    estimator: str = ""
    assets: str = ""
    smoothed: bool = False

    def __post_init__(self) -> None:
        if self.hands3d_m is None:  # an estimator that does not look for hands
            self.hands3d_m = np.full((len(self), 2, 3), np.nan, np.float32)
        if self.tile_px is None or (len(self.tile_px) == 0 and len(self) > 0):
            # None, or rows given (with_rows) to an empty sequence without tiles: one picture
            self.tile_px = np.full((len(self), 4), np.nan, np.float32)

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def take(self, rows: np.ndarray) -> SmplSequence:
        return replace(self, **{name: getattr(self, name)[rows] for name in ROW_FIELDS})

    def project(self, points: np.ndarray, image_size_hw: tuple[int, int]) -> np.ndarray:
        """(M, J, 3) camera-frame points of the rows -> (M, J, 2) frame pixels, each row through
        its own camera: the frame's (``focal_px``, principal point at the image centre), or its
        split-screen tile's (:func:`tasks.layout.tile_focal_px`, the tile's centre)."""
        from pmrr_model.estimators.common import project
        from tasks.layout import tile_focal_px, tile_keys

        out = np.empty((*points.shape[:-1], 2), np.float64)
        keys = tile_keys(self.tile_px)
        for tile in set(keys):
            rows = np.asarray([k == tile for k in keys])
            if tile is None:
                out[rows] = project(points[rows], self.focal_px, image_size_hw)
            else:
                x0, y0, x1, y1 = tile
                view = project(points[rows], tile_focal_px(tile), (y1 - y0, x1 - x0))
                out[rows] = view + np.array([x0, y0], np.float64)
        return out

    def with_rows(self, **arrays: np.ndarray) -> SmplSequence:
        return replace(self, **arrays)

    @classmethod
    def concat(cls, parts: list[SmplSequence], **meta) -> SmplSequence:
        if not parts:
            return cls.empty(**meta)
        arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in ROW_FIELDS}
        first = parts[0]
        base = {f.name: getattr(first, f.name) for f in fields(cls) if f.name not in ROW_FIELDS}
        return cls(**arrays, **{**base, **meta})

    @classmethod
    def empty(cls, n_joints: int = 49, **meta) -> SmplSequence:
        z = np.zeros
        return cls(
            frame=z(0, np.int64),
            track_id=z(0, np.int32),
            shot_id=z(0, np.int32),
            bbox_px=z((0, 4), np.float32),
            det_score=z(0, np.float32),
            global_orient=z((0, 3), np.float32),
            body_pose=z((0, 69), np.float32),
            betas=z((0, 10), np.float32),
            cam=z((0, 3), np.float32),
            transl_m=z((0, 3), np.float32),
            joints3d_m=z((0, n_joints, 3), np.float32),
            joints2d_px=z((0, n_joints, 2), np.float32),
            confidence=z(0, np.float32),
            joints_observed=z((0, n_joints), bool),
            hands3d_m=z((0, 2, 3), np.float32),
            tile_px=z((0, 4), np.float32),
            **meta,
        )
