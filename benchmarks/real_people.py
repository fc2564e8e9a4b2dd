"""People found, and where their joints are, on real annotated photos (not shipped: bring them).

Reads keypoint annotations in the layouts public pose data sets use and prints one table: per set,
the annotated people with at least 6 visible limb joints (shoulders, elbows, wrists, hips, knees,
ankles), person recall, precision (only on sets that annotate every person in a photo: COCO,
CrowdPose, AI Challenger; OCHuman annotates some of the people in each photo, MPII one), and
PCK@0.1 of the limb joints (a joint is right when it lies within 0.1 x the person's size of the
annotation; the size is the longer side of the box around the person's visible annotated
keypoints; a missed person's joints count as wrong). Two more columns score only the people
found: the fitted joints ("fit") and the 2D landmarks the landmark fit was given for them
("landmarks": MoveNet's limb joints where it is installed and confident, MediaPipe's otherwise),
so the table shows how much of the PCK the landmark models lose and how much the fit adds or
loses on top. ``--no-movenet`` fits MediaPipe's landmarks alone, as videos do.

A predicted person is matched to an annotated one (Hungarian, one to one) by the fraction of the
annotated person's visible limb joints within 0.2 x size of the prediction's; a match counts when
that fraction is at least 0.5. Predictions are the pipeline's own: the configured detector's
boxes (its photo setting, ``create_detector(photos=True)``, as ``pmrr demo --img_file`` uses),
then the estimator's 2D joints (``joints2d_px``), i.e. the fitted body's projected joints, with
the estimator's photo setting too (``create_estimator(photos=True)``: MoveNet's limb joints).

Sets read from ``--data DIR`` (each optional): ``coco/test_coco.json``,
``ochuman/test_ochuman.json``, ``crowdpose/test_crowdpose.json``, ``aic/test_aic.json``,
``h36m/h36m_coco.json`` (Human3.6M's lab: seated, greeting, walking), ``mhp/test_mhp.json``
(Multi-Human Parsing: people close together), ``jhmdb/test_jhmdb_sub1.json`` (320x240 film
frames) -- COCO-style files with their own keypoint order -- and
``mpii/test_mpii.json`` (MPII's list format: one annotated person per entry, other people in the
photo unannotated, so no precision). Images lie next to each file (where a file names an image by
its base name only, it is looked up under the set's folder). The small real samples in OpenMMLab
mmpose's repository (``tests/data/``) have exactly this layout. (Its PoseTrack18 samples are left
out: their annotations do not lie on the people of the images that ship with them; its ExLPose
frames are nearly black.)

A second table measures the bodies in 3D against motion capture: ``h36m/test_h36m.npz``
(Human3.6M, the 24 joints of SPIN's preprocessed files) and ``mpi_inf_3dhp/test_3dhp_*.npz``
(MPI-INF-3DHP's 17 joints) -- camera-frame joints ``S`` in metres, 2D ``part`` in pixels, the
same folders. A frame's person is the prediction whose 2D limb joints match ``part`` (as above);
its limb joints in 3D (the seed's 24-joint block of ``joints3d_m``, named like Human3.6M's) are
scored by PA-MPJPE (after the best rotation, scale and translation) and by MPJPE after moving
the hips' midpoint onto the ground truth's, in mm. The body is the stand-in's, whose joints are
not placed exactly where the motion-capture skeletons put theirs (hips, shoulders): part of the
error is that difference, which a similarity transform cannot remove. The "floor" column says
how large it is: the stand-in posed and shaped to the motion-capture joints themselves
(:func:`definition_floor`), scored the same way.

    git clone --depth 1 https://github.com/open-mmlab/mmpose /tmp/mmpose
    python3 benchmarks/real_people.py --data /tmp/mmpose/tests/data

Your own annotated photos, in COCO's person-keypoints format (:func:`load_coco_file`; recall and
PCK, no precision):

    python3 benchmarks/real_people.py --coco person_keypoints.json --images val2017 --limit 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from pmrr_model.constants import JOINT_NAMES
from pmrr_model.evaluation.metrics import keypoint_match, pa_mpjpe, pck_hits

# Our joints2d_px order starts with the OpenPose-25 names (pmrr_model.constants.JOINT_NAMES).
OURS = {
    "r_shoulder": 2, "r_elbow": 3, "r_wrist": 4, "l_shoulder": 5, "l_elbow": 6, "l_wrist": 7,
    "r_hip": 9, "r_knee": 10, "r_ankle": 11, "l_hip": 12, "l_knee": 13, "l_ankle": 14,
}  # fmt: skip
LIMBS = tuple(OURS)
# limb joint -> index in each set's keypoint order
LEFT_FIRST = (
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip",
    "l_knee", "r_knee", "l_ankle", "r_ankle",
)  # fmt: skip
COCO_ORDER = dict(zip(LEFT_FIRST, range(5, 17), strict=True))  # after 5 face points
CROWDPOSE_ORDER = dict(zip(LEFT_FIRST, range(12), strict=True))
MPII_ORDER = {
    "r_ankle": 0, "r_knee": 1, "r_hip": 2, "l_hip": 3, "l_knee": 4, "l_ankle": 5, "r_wrist": 10,
    "r_elbow": 11, "r_shoulder": 12, "l_shoulder": 13, "l_elbow": 14, "l_wrist": 15,
}  # fmt: skip
SETS = {
    "coco": ("coco/test_coco.json", COCO_ORDER),
    "ochuman": ("ochuman/test_ochuman.json", COCO_ORDER),
    "crowdpose": ("crowdpose/test_crowdpose.json", CROWDPOSE_ORDER),
    "aic": ("aic/test_aic.json", dict(zip(
        ("r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "r_knee",
         "r_ankle", "l_hip", "l_knee", "l_ankle"), range(12), strict=True))),
    # Human3.6M's own order (1-3 right leg, 4-6 left leg); the sample file's category names the
    # legs the other way round, but its right hip lies on its right shoulder's side
    "h36m": ("h36m/h36m_coco.json", {
        "r_hip": 1, "r_knee": 2, "r_ankle": 3, "l_hip": 4, "l_knee": 5, "l_ankle": 6,
        "l_shoulder": 11, "l_elbow": 12, "l_wrist": 13, "r_shoulder": 14, "r_elbow": 15,
        "r_wrist": 16}),
    "mhp": ("mhp/test_mhp.json", MPII_ORDER),
    "jhmdb": ("jhmdb/test_jhmdb_sub1.json", {
        "r_shoulder": 3, "l_shoulder": 4, "r_hip": 5, "l_hip": 6, "r_elbow": 7, "l_elbow": 8,
        "r_knee": 9, "l_knee": 10, "r_wrist": 11, "l_wrist": 12, "r_ankle": 13, "l_ankle": 14}),
    "mpii": ("mpii/test_mpii.json", MPII_ORDER),
}  # fmt: skip
#: 3D sets: files (SPIN's npz layout: imgname, part, S) and each limb joint's index in them
SETS_3D = {
    "h36m": (("h36m/test_h36m.npz",), dict(zip(
        ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
         "r_shoulder", "l_shoulder", "l_elbow", "l_wrist"), range(12), strict=True))),
    "mpi_inf_3dhp": (("mpi_inf_3dhp/test_3dhp_test.npz", "mpi_inf_3dhp/test_3dhp_train.npz"), {
        "r_shoulder": 2, "r_elbow": 3, "r_wrist": 4, "l_shoulder": 5, "l_elbow": 6, "l_wrist": 7,
        "r_hip": 8, "r_knee": 9, "r_ankle": 10, "l_hip": 11, "l_knee": 12, "l_ankle": 13}),
}  # fmt: skip
#: our 2D limb joints (OpenPose block) and 3D limb joints (the seed's 24-joint block, whose names
#: are Human3.6M's), in LIMBS order
OURS_2D = [OURS[n] for n in LIMBS]
OURS_3D = [
    JOINT_NAMES.index(("Right " if n[0] == "r" else "Left ") + n[2:].capitalize()) for n in LIMBS
]
#: sets that leave people in a photo unannotated: a prediction on one of them is no false positive
PARTIAL = frozenset({"ochuman", "mpii"})
MIN_LIMB_JOINTS = 6
MATCH_RADIUS, MATCH_FRACTION, PCK_RADIUS = 0.2, 0.5, 0.1


@dataclass
class Person:
    limbs: np.ndarray  # (12, 2) pixels, in LIMBS order
    visible: np.ndarray  # (12,) bool
    size: float  # longer side of the box around all visible annotated keypoints


@dataclass
class Photo:
    path: Path
    people: list[Person]
    complete: bool  # every person in the photo is annotated (precision is meaningful)


@dataclass
class Tally:
    eligible: int = 0
    found: int = 0
    predicted: int = 0
    false: int = 0
    joints: int = 0
    joints_right: int = 0
    #: joints of the found people only: the fitted body's right, the landmarks' right
    found_joints: int = 0
    found_right: int = 0
    found_right_landmarks: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Pool ``other`` into this tally (every count summed, the seconds joined)."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _person(points: np.ndarray, vis: np.ndarray, order: dict[str, int]) -> Person:
    seen = points[vis]
    size = float(np.ptp(seen, axis=0).max()) if len(seen) >= 2 else 0.0
    index = [order[name] for name in LIMBS]
    return Person(points[index], vis[index], size)


def load(root: Path, name: str) -> list[Photo]:
    relative, order = SETS[name]
    path = root / relative
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    if name == "mpii":
        photos = []
        for entry in data:
            points = np.asarray(entry["joints"], float)
            vis = np.asarray(entry["joints_vis"], bool) & (points > 0).all(1)
            person = _person(points, vis, order)
            photos.append(Photo(path.parent / entry["image"], [person], name not in PARTIAL))
        return photos
    people: dict[int, list[Person]] = {}
    for ann in data["annotations"]:
        kp = np.asarray(ann["keypoints"], float).reshape(-1, 3)
        people.setdefault(ann["image_id"], []).append(_person(kp[:, :2], kp[:, 2] > 0, order))
    return [
        Photo(
            _image_path(root / relative.split("/")[0], path.parent / image["file_name"]),
            people.get(image["id"], []),
            name not in PARTIAL,
        )
        for image in data["images"]
    ]


def load_coco_file(path: Path, images: Path, limit: int | None = None) -> list[Photo]:
    """A COCO person-keypoints file of your own (e.g. ``person_keypoints_val2017.json``) with
    its images under ``images``: the photos with at least one person with
    :data:`MIN_LIMB_JOINTS` visible limb joints, the first ``limit`` of them. Crowd regions are
    left out. Precision is not scored: COCO files hold people too small to have keypoints, whom
    a found person could not be matched to."""
    try:
        data = json.loads(path.read_text())
        annotations, entries = data["annotations"], data["images"]
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path}: not a COCO keypoints file ({error})") from None
    people: dict[int, list[Person]] = {}
    for ann in annotations:
        if ann.get("iscrowd") or "keypoints" not in ann:
            continue
        kp = np.asarray(ann["keypoints"], float).reshape(-1, 3)
        if len(kp) != 17:
            raise ValueError(f"{path}: annotation {ann.get('id')} has {len(kp)} keypoints, not 17")
        people.setdefault(ann["image_id"], []).append(_person(kp[:, :2], kp[:, 2] > 0, COCO_ORDER))
    photos = []
    for image in entries:
        persons = people.get(image["id"], [])
        if any(p.visible.sum() >= MIN_LIMB_JOINTS for p in persons):
            photos.append(Photo(images / image["file_name"], persons, complete=False))
            if limit is not None and len(photos) >= limit:
                break
    return photos


@dataclass
class Frame3D:
    path: Path
    person: Person  # 2D limbs from ``part``, for finding the frame's person
    joints3d: np.ndarray  # (12, 3) metres, camera frame, LIMBS order
    visible3d: np.ndarray  # (12,) bool


def load_3d(root: Path, name: str) -> list[Frame3D]:
    """The frames of a 3D set (SPIN's npz layout), read as data (no pickles)."""
    files, order = SETS_3D[name]
    index = [order[n] for n in LIMBS]
    frames = []
    for relative in files:
        path = root / relative
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as data:
            missing = sorted({"imgname", "part", "S"} - set(data.files))
            if missing:
                raise ValueError(f"{path}: no {missing} (SPIN's layout: imgname, part, S)")
            names, part, joints = data["imgname"], data["part"], data["S"]
        if joints.ndim != 3 or joints.shape[2] != 4 or max(index) >= joints.shape[1]:
            raise ValueError(f"{path}: S is {joints.shape}, not (frames, joints, xyz + valid)")
        for imgname, points, s in zip(names, part, joints, strict=True):
            person = _person(points[:, :2], points[:, 2] > 0, order)
            image = _image_path(path.parent, path.parent / str(imgname))
            frames.append(Frame3D(image, person, s[index, :3], s[index, 3] > 0))
    return frames


def found_limbs(image: np.ndarray, detector, estimator) -> tuple[np.ndarray, np.ndarray]:
    """The limb joints (LIMBS order) of everybody the pipeline finds in ``image``: 2D pixels
    (N, 12, 2) from the OpenPose block, 3D metres (N, 12, 3) from the 24-joint block."""
    boxes, _ = detector.detect(image)
    if not len(boxes):
        return np.zeros((0, len(LIMBS), 2)), np.zeros((0, len(LIMBS), 3))
    bodies = estimator.estimate(image, boxes)
    return bodies.joints2d_px[:, OURS_2D], bodies.joints3d_m[:, OURS_3D].astype(np.float64)


def landmark_limbs(estimator, n_people: int) -> np.ndarray | None:
    """(N, 12, 2) the 2D landmarks the landmark fit was given in its last :func:`found_limbs`
    call (MoveNet's or MediaPipe's, on the OpenPose names; NaN where it had none), or None for an
    estimator without landmarks (PMRR). Scored on the same people as the fitted joints, they
    show how much of the PCK the landmark model itself loses and how much the fit does."""
    targets = getattr(estimator, "last_targets", None)
    if targets is None:
        return None
    if not n_people:
        return np.zeros((0, len(LIMBS), 2))
    limbs = np.stack([t.joints2d_px[OURS_2D] for t in targets]).astype(np.float64)
    limbs[np.stack([t.weights2d[OURS_2D] for t in targets]) <= 0] = np.nan
    return limbs


def evaluate_3d(frames: list[Frame3D], detector, estimator) -> dict[str, list[float]]:
    """Per frame: PA-MPJPE and hip-centred MPJPE (mm) of the limb joints; NaN when the frame's
    person was not found."""
    from pmrr_interviews.demo import read_image_rgb

    out: dict[str, list[float]] = {"pa": [], "mpjpe": []}
    for frame in frames:
        joints2d, joints3d = found_limbs(read_image_rgb(frame.path), detector, estimator)
        pa = centred = float("nan")
        if len(joints2d):
            pairs = keypoint_match(
                frame.person.limbs[None], frame.person.visible[None],
                np.array([frame.person.size]), joints2d, MATCH_RADIUS, MATCH_FRACTION,
            )  # fmt: skip
            if 0 in pairs:
                pred = joints3d[pairs[0]]
                seen, gt = frame.visible3d, frame.joints3d
                pa = 1000 * pa_mpjpe(pred, gt, seen)
                hips = [LIMBS.index("l_hip"), LIMBS.index("r_hip")]
                if seen[hips].all():  # centred on the hips only where both were captured
                    moved = pred + gt[hips].mean(0) - pred[hips].mean(0)
                    centred = 1000 * float(np.linalg.norm(moved[seen] - gt[seen], axis=1).mean())
        out["pa"].append(pa)
        out["mpjpe"].append(centred)
    return out


def definition_floor(frames: list[Frame3D], steps: int = 600) -> list[float]:
    """Per frame, the PA-MPJPE (mm) of the body model fitted to the ground-truth limb joints
    directly (pose, shape and orientation by Adam from four headings, the best kept; centred
    and scaled to the same size, as PA-MPJPE aligns): what no estimator on this body model can
    go below."""
    import torch

    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel
    from pmrr_model.estimators.sparse_joints import SparseJoints
    from pmrr_model.geometry import rotmat_to_axis_angle

    joints_of = SparseJoints(BodyModel(resolve_assets()).eval(), n_joints=len(JOINT_NAMES))
    truth = np.stack([f.joints3d for f in frames])
    centred = torch.tensor(truth - truth.mean(1, keepdims=True), dtype=torch.float32)
    best = np.full(len(frames), np.inf)
    for heading in np.arange(4) * np.pi / 2:
        c, s = np.cos(heading), np.sin(heading)
        turn = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
        orient = rotmat_to_axis_angle(turn @ np.diag([1.0, -1.0, -1.0]))  # upright, camera frame
        orients = torch.tensor(np.tile(orient, (len(frames), 1)), dtype=torch.float32)
        orients.requires_grad_(True)
        pose = torch.zeros(len(frames), 69, requires_grad=True)
        betas = torch.zeros(len(frames), 10, requires_grad=True)
        optimiser = torch.optim.Adam([orients, pose, betas], lr=0.03)
        for _ in range(steps):
            optimiser.zero_grad()
            j = joints_of(betas, pose, orients)[:, OURS_3D]
            j = j - j.mean(1, keepdim=True)
            scale = centred.norm(dim=(1, 2)) / j.norm(dim=(1, 2))  # sizes matched, > 0
            loss = ((scale[:, None, None] * j - centred) ** 2).sum(-1).mean(1)
            loss = loss + 1e-3 * (betas**2).sum(1)
            loss.sum().backward()
            optimiser.step()
        with torch.no_grad():
            fitted = joints_of(betas, pose, orients)[:, OURS_3D].double().numpy()
        errors = [1000 * pa_mpjpe(fitted[k], truth[k], f.visible3d) for k, f in enumerate(frames)]
        best = np.minimum(best, errors)
    return best.tolist()


def _image_path(set_dir: Path, named: Path) -> Path:
    """``named`` where it exists, else the one file of that base name under the set's folder
    (Human3.6M's file names the image without its subject and sequence folders)."""
    if named.exists():
        return named
    found = sorted(set_dir.rglob(named.name))
    return found[0] if found else named


def evaluate(photos: list[Photo], detector, estimator, tally: Tally) -> None:
    from pmrr_interviews.demo import read_image_rgb

    for photo in photos:
        image = read_image_rgb(photo.path)
        began = time.perf_counter()
        joints, _ = found_limbs(image, detector, estimator)
        tally.seconds.append(time.perf_counter() - began)
        landmarks = landmark_limbs(estimator, len(joints))
        # every annotated person may claim a prediction; only eligible ones are scored
        pairs = keypoint_match(
            np.stack([p.limbs for p in photo.people]) if photo.people else np.zeros((0, 12, 2)),
            np.stack([p.visible for p in photo.people]) if photo.people else np.zeros((0, 12), bool),
            np.array([p.size for p in photo.people]),
            joints, MATCH_RADIUS, MATCH_FRACTION,
        )  # fmt: skip
        for i, person in enumerate(photo.people):
            if person.visible.sum() < MIN_LIMB_JOINTS or person.size <= 0:
                continue
            found = i in pairs
            right, total = pck_hits(
                person.limbs, person.visible, person.size,
                joints[pairs[i]] if found else None, PCK_RADIUS,
            )  # fmt: skip
            tally.eligible += 1
            tally.found += int(found)
            tally.joints += total
            tally.joints_right += right
            if found:
                tally.found_joints += total
                tally.found_right += right
                if landmarks is not None:
                    tally.found_right_landmarks += pck_hits(
                        person.limbs, person.visible, person.size, landmarks[pairs[i]], PCK_RADIUS
                    )[0]
        if photo.complete:
            tally.predicted += len(joints)
            tally.false += len(joints) - len(pairs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder with the sets' folders")
    parser.add_argument("--coco", type=Path, help="your own COCO person-keypoints file ...")
    parser.add_argument("--images", type=Path, help="... and the folder of its images")
    parser.add_argument("--limit", type=int, default=None, help="--coco: its first N photos")
    parser.add_argument("--estimator", default="landmark-fit")
    parser.add_argument("--detector", default="mediapipe")
    parser.add_argument(
        "--no-movenet", action="store_true", help="MediaPipe's limb landmarks alone (as videos)"
    )
    args = parser.parse_args(argv)
    if (args.data is None) == (args.coco is None) or (args.coco is None) != (args.images is None):
        parser.error("give --data DIR, or --coco FILE with --images DIR")
    from pmrr_model.detection import create_detector
    from pmrr_model.estimators.factory import create_estimator

    detector = create_detector(args.detector, photos=True)
    estimator = create_estimator(args.estimator, photos=not args.no_movenet)
    rows, total = [], Tally()
    if args.coco is not None:
        sets = {args.coco.name: load_coco_file(args.coco, args.images, args.limit)}
    else:
        sets = {name: load(args.data, name) for name in SETS}
    for name, photos in sets.items():
        if not photos:
            continue
        tally = Tally()
        evaluate(photos, detector, estimator, tally)
        rows.append((name, len(photos), tally))
        total.add(tally)
    if not rows:
        where = args.data or args.coco
        print(f"no annotated people in {where} (see this file's docstring)", file=sys.stderr)
        return 1
    rows.append(("all", sum(r[1] for r in rows), total))
    rows_3d = []
    for name in SETS_3D if args.data is not None else ():
        frames = load_3d(args.data, name)
        if frames:
            scores = evaluate_3d(frames, detector, estimator)
            rows_3d.append((name, {**scores, "floor": definition_floor(frames)}))
    print(f"detector {args.detector}, estimator {estimator.name}; people with >= 6 visible limbs")
    print(
        "| set | photos | people | recall | precision | PCK@0.1 | PCK found: fit | "
        "PCK found: landmarks | s/photo |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, t in rows:
        recall = t.found / t.eligible if t.eligible else float("nan")
        precision = 1 - t.false / t.predicted if t.predicted else float("nan")
        pck = t.joints_right / t.joints if t.joints else float("nan")
        fit = t.found_right / t.found_joints if t.found_joints else float("nan")
        marks = t.found_right_landmarks / t.found_joints if t.found_joints else float("nan")
        marks_text = f"{marks:.2f}" if hasattr(estimator, "last_targets") else "-"
        print(
            f"| {name} | {n} | {t.eligible} | {recall:.2f} | {precision:.2f} | {pck:.2f} "
            f"| {fit:.2f} | {marks_text} | {np.mean(t.seconds):.2f} |"
        )
    # the table rounds; a goal such as PCK >= 0.85 is read off the counts
    print(
        f"all: {total.found} of {total.eligible} people found, {total.joints_right} of "
        f"{total.joints} limb joints right (PCK@0.1 {total.joints_right / total.joints:.3f})"
    )
    if rows_3d:
        print_3d(rows_3d)
    return 0


def print_3d(rows: list[tuple[str, dict[str, list[float]]]]) -> None:
    """The 3D table: per set and pooled, frames, people found, mean errors over found ones."""
    pooled = {key: [v for _, r in rows for v in r[key]] for key in ("pa", "mpjpe", "floor")}
    print("\nlimb joints in 3D against motion capture (mm; stand-in body, see the docstring)")
    print("| set | frames | found | PA-MPJPE | MPJPE (hips centred) | floor | PA-MPJPE per frame |")
    print("|---|---|---|---|---|---|---|")
    for name, r in [*rows, ("all", pooled)]:
        pa = np.asarray(r["pa"])
        found = np.isfinite(pa)
        each = " ".join(f"{v:.0f}" for v in pa) if name != "all" else ""
        pa_mean = pa[found].mean() if found.any() else float("nan")
        centred = np.asarray(r["mpjpe"])[found].mean() if found.any() else float("nan")
        floor = np.mean(r["floor"])
        print(
            f"| {name} | {len(pa)} | {found.sum()} | {pa_mean:.0f} | {centred:.0f} | {floor:.0f} "
            f"| {each} |"
        )


if __name__ == "__main__":
    sys.exit(main())
