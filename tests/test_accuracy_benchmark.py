"""The accuracy yardstick runs end to end and its ground truth is right.

The quick benchmark (benchmarks/accuracy.py --quick) runs in a subprocess, as CI runs it; its
scenes and pipeline outputs are cached under ``$PMRR_CACHE_DIR`` (default
``~/.cache/pmrr_interviews``)/eval, so reruns take seconds. The assertions check that every
metric is computed and sane, not that the pipeline reaches targets (those are the issue's).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("accuracy") / "quick.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "accuracy.py"), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_quick_benchmark_prints_every_column(quick_result):
    result, stdout = quick_result
    from pmrr_model.evaluation.benchmark import COLUMNS

    lines = stdout.splitlines()
    header = next(line for line in lines if line.startswith("scene "))
    for column in COLUMNS:
        assert column in header, column
    scenes = [r["scene"] for r in result["rows"]]
    assert scenes == ["medium", "interview", "still", "all"]
    for scene in scenes:
        assert any(line.startswith(scene) for line in lines), scene


def test_quick_benchmark_numbers_are_sane(quick_result):
    result, _ = quick_result
    rows = {r["scene"]: r for r in result["rows"]}
    medium = rows["medium"]
    assert medium["recall"] >= 0.9  # the one seated person (measured 1.00)
    # Two people at an angle, faces the face model does not find: the body proposals find them
    # (measured 0.91; 0.39 before the proposals). Precision: nothing is found that is not there.
    assert rows["interview"]["recall"] >= 0.85 and rows["all"]["prec"] >= 0.95
    for row in rows.values():
        assert 0 <= row["recall"] <= 1 and 0 <= row["prec"] <= 1
        assert row["IDsw"] >= 0
    for key in ("MPJPE", "PA", "PVE", "2D%", "accel", "lean_f", "pitch", "yaw", "hface"):
        value = rows["all"][key]
        assert math.isfinite(value) and value >= 0, key
    # Procrustes can only lower the error; mm-scale errors of a fitted body, not metres.
    assert rows["all"]["PA"] <= rows["all"]["MPJPE"] < 500
    # Seated legs start on MediaPipe's 3D bone directions (the fit's cold start): measured
    # PA-MPJPE 64 mm; 115 mm when the thighs fell into their mirror image behind the hips.
    assert rows["all"]["PA"] < 85
    # The still listener has no scripted event, so every estimated event there is false.
    assert rows["still"]["events_all"]["n_gt"] == 0
    assert rows["still"]["FPev/min"] >= 0
    # The event rules find the scripted events, and nothing else, on the ground-truth bodies
    # themselves (measured 1.00: no stroke where the arms fold or the hand goes to the face).
    assert rows["all"]["F1gt"] >= 0.95


def test_ground_truth_is_self_consistent(tmp_path):
    from flows import components
    from pmrr_model.evaluation import scenes as S

    body = components.body_model(None)
    spec = S.SceneSpec(
        "lean",
        "one person leaning forward 15 degrees",
        (
            S.ShotSpec(
                0.0,
                1.6,
                "coffee",
                (S.PersonSpec(0, 20.0, (0.0, 0.3, 2.6), (S.Action("lean", 0.3, 0.9, 15.0),), 0.0),),
            ),
        ),
    )
    folder = S.generate_scene(spec, tmp_path, body, seed=3)
    gt = pd.read_parquet(folder / "gt_frames.parquet")
    assert len(gt) == spec.n_frames() == 40
    j3 = np.stack(gt["joints3d_m"].to_list()).reshape(-1, 24, 3)
    j2 = np.stack(gt["joints2d_px"].to_list()).reshape(-1, 24, 2)
    np.testing.assert_allclose(S.project(j3, S.FOCAL_PX), j2, atol=1e-3)
    # The stored parameters reproduce the joints (camera frame) through the body model.
    import torch

    with torch.no_grad():
        out = body(
            betas=torch.as_tensor(np.stack(gt["betas"].to_list())),
            body_pose=torch.as_tensor(np.stack(gt["body_pose"].to_list())),
            global_orient=torch.as_tensor(np.stack(gt["global_orient"].to_list())),
        )
    rebuilt = out.smpl_joints.numpy() + np.stack(gt["transl_m"].to_list())[:, None]
    np.testing.assert_allclose(rebuilt, j3, atol=2e-4)
    # Everything is in frame and nobody occludes: all joints visible above the lap.
    assert gt["counted"].all()
    boxes = np.stack(gt["bbox_px"].to_list())
    inside = (j2[..., 0] >= boxes[:, None, 0] - 1) & (j2[..., 0] <= boxes[:, None, 2] + 1)
    assert inside[np.stack(gt["visible"].to_list())].all()
    # The ground-truth measure of the scripted +15 deg lean reads +15 +- 1 deg.
    meta = json.loads((folder / "scene.json").read_text())
    measures = S.ground_truth_analytics(gt, meta["fps"], meta["n_frames"], body)
    lean = measures["features_frames"]["trunk_lean_forward_deg"].to_numpy()
    before, after = lean[:5].mean(), lean[-10:].mean()
    assert after - before == pytest.approx(15.0, abs=1.0)
    assert after == pytest.approx(15.0, abs=1.0)
    events = pd.read_parquet(folder / "gt_events.parquet")
    assert events[["event_type", "start_s", "end_s"]].values.tolist() == [
        ["posture_shift", 0.3, 0.9]
    ]
    assert meta["focal_px"] == pytest.approx(np.hypot(640, 360))


def test_scenes_at_another_frame_rate_show_the_same_motion(tmp_path):
    """A scene rendered at 50 fps is the 25 fps one sampled twice as often: the same script and
    sway at the same times (so measures can be compared across frame rates), its own cache
    folder, and ground truth timed at 50 fps."""
    from flows import components
    from pmrr_model.evaluation import scenes as S

    body = components.body_model(None)
    spec = S.SceneSpec(
        "nod",
        "one person nodding",
        (S.ShotSpec(0.0, 1.2, "coffee", (S.PersonSpec(0, 20.0, (0.0, 0.3, 2.6), (
            S.Action("nod", 0.2, 1.0, 10.0, 2.0),)),)),),
    )  # fmt: skip
    at = {fps: S.generate_scene(spec, tmp_path / f"{fps:g}", body, seed=1, fps=fps)
          for fps in (25.0, 50.0)}  # fmt: skip
    gt = {fps: pd.read_parquet(folder / "gt_frames.parquet") for fps, folder in at.items()}
    assert len(gt[25.0]) == spec.n_frames(25.0) == 30
    assert len(gt[50.0]) == spec.n_frames(50.0) == 60
    assert json.loads((at[50.0] / "scene.json").read_text())["fps"] == 50.0
    np.testing.assert_allclose(gt[50.0]["t_s"], np.arange(60) / 50.0)
    for column in ("joints3d_m", "body_pose", "global_orient", "transl_m"):
        slow = np.stack(gt[25.0][column].to_list())
        fast = np.stack(gt[50.0][column].to_list())
        np.testing.assert_allclose(fast[::2], slow, atol=1e-6, err_msg=column)
    # and the frames in between are new moments of the nod, not copies of their neighbours
    pose = np.stack(gt[50.0]["body_pose"].to_list())
    assert np.abs(pose[1::2] - pose[::2]).max() > 0.01  # radians
    keys = {S.cache_key(True, 0, "a", fps) for fps in (25.0, 50.0)}
    assert len(keys) == 2 and S.cache_key(True, 0, "a") in keys
