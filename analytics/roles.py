"""Interviewer / interviewee role assignment: the project's one role heuristic.

Without audio nobody knows who asks the questions, so the default is a framing heuristic: an
interview camera frames the interviewee, who is therefore the person seen largest (shoulder
width / depth, i.e. apparent size) for the largest share of the video; the interviewer is the
next one; everybody else is "other". Symmetric two-shots defeat it, hence the explicit
per-video override, which always wins.

:func:`video_roles` is the entry point, used by :func:`analytics.compute_video_features` and by
the flow whether or not the analytics stage runs, so the `tracks` table and the analytics tables
can never disagree on who is who.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analytics import joints as J

ROLES = ("interviewer", "interviewee", "other")


#: the joints the apparent size reads: the shoulders and the neck
SIZE_JOINTS = (J.L_SHOULDER, J.R_SHOULDER, J.NECK)
#: their positions in a row's flattened (49 x 3) joints
_SIZE_VALUES = np.array([3 * k + axis for k in SIZE_JOINTS for axis in range(3)])


def apparent_size(j: np.ndarray) -> np.ndarray:
    """(T, 49, 3) camera-frame joints -> (T,) shoulder width / depth; NaN where unusable.

    Width over depth is the shoulder width as the camera sees it (scale-free, unlike a box in
    pixels), so it measures framing, not the person's build alone.
    """
    j = np.asarray(j)  # only the three joints read are made float64 (an hour's rows: 170 MiB)
    return _size(*(j[:, k] for k in SIZE_JOINTS))


def _size(left: np.ndarray, right: np.ndarray, neck: np.ndarray) -> np.ndarray:
    """(T,) shoulder width / neck depth of (T, 3) joints (:func:`apparent_size`)."""
    left, right, neck = (np.asarray(p, np.float64) for p in (left, right, neck))
    width = np.linalg.norm(left - right, axis=-1)
    depth = neck[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return width / np.where(depth > 1e-3, depth, np.nan)


def framing_score(sizes: np.ndarray, n_frames: int) -> float:
    """Presence fraction of the video x median apparent size, larger = more framed.

    ``sizes``: the apparent size of each video frame in which the person was seen (one value per
    distinct frame; NaN values do not count as seen). Presence is over the whole video, not the
    track's span: a person seen in 2 s of a 10-minute video is not "present all the time".
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    sizes = sizes[np.isfinite(sizes)]
    if len(sizes) == 0 or n_frames <= 0:
        return 0.0
    return float(min(len(sizes) / n_frames, 1.0) * np.median(sizes))


def check_override(override: Mapping[int | str, str]) -> dict[int, str]:
    """Validated copy of a roles override with integer track ids.

    Track ids may arrive as strings (JSON flow parameters); an unknown role raises ValueError
    naming it, since a typo ("interviwee") would otherwise silently demote a person to "other".
    """
    out: dict[int, str] = {}
    for track, role in override.items():
        if role not in ROLES:
            raise ValueError(
                f"unknown role {role!r} for track {track} in the roles override; "
                f"expected one of {ROLES}"
            )
        try:
            out[int(track)] = role
        except (TypeError, ValueError) as error:
            raise ValueError(f"roles override: track id {track!r} is not an integer") from error
    return out


def roles_from_scores(
    scores: Mapping[int, float], override: Mapping[int | str, str] | None = None
) -> dict[int, str]:
    """Roles of the tracks in ``scores`` (framing scores): the override if given (unlisted
    tracks -> "other"), else the highest score is the interviewee, the next the interviewer
    (ties broken by the lower track id, so the result is deterministic)."""
    if override is not None:
        chosen = check_override(override)
        return {int(t): chosen.get(int(t), "other") for t in scores}
    order = sorted(scores, key=lambda t: (-scores[t], t))
    roles = dict.fromkeys((int(t) for t in order), "other")
    for track, role in zip(order, ("interviewee", "interviewer"), strict=False):
        roles[int(track)] = role
    return {int(t): roles[int(t)] for t in sorted(scores)}


def video_framing_scores(
    smpl: pd.DataFrame, n_frames: int, persons: Mapping[int, int] | None = None
) -> dict[int, float]:
    """Framing score of every track of one video's `smpl` table (columns track_id, frame,
    joints3d_m as 147 values per row), or with ``persons`` ({track_id: person_id}) of every
    person, over all their tracks' frames. Rows outside ``[0, n_frames)`` are ignored and for a
    duplicated (track, frame) the last row wins, as in :func:`analytics.joints.dense_joints`."""
    if len(smpl) == 0:
        return {}
    width = J.list_values(smpl.iloc[:1], "joints3d_m").shape[1]
    if width != J.N_JOINTS * 3:
        raise ValueError(f"joints3d_m has {width} values per row, expected {J.N_JOINTS * 3}")
    # only the joints read, not the whole column as one array (80 MiB an hour)
    values = J.list_values(smpl, "joints3d_m", dtype=None, columns=_SIZE_VALUES)
    tracks = smpl["track_id"].to_numpy(dtype=np.int64)
    rows = pd.DataFrame(
        {
            "track_id": tracks,
            "who": [persons[int(t)] for t in tracks] if persons is not None else tracks,
            "frame": smpl["frame"].to_numpy(dtype=np.int64),
            "size": _size(*values.reshape(-1, len(SIZE_JOINTS), 3).transpose(1, 0, 2)),
        }
    )
    inside = rows[(rows["frame"] >= 0) & (rows["frame"] < n_frames)]
    inside = inside.drop_duplicates(["track_id", "frame"], keep="last")
    sizes = {int(w): g["size"].to_numpy() for w, g in inside.groupby("who")}
    return {
        int(w): framing_score(sizes.get(int(w), np.empty(0)), n_frames)
        for w in sorted(rows["who"].unique())
    }


def video_roles(
    smpl: pd.DataFrame,
    n_frames: int,
    override: Mapping[int | str, str] | None = None,
    persons: Mapping[int, int] | None = None,
) -> dict[int, str]:
    """Role of every track of one video: {track_id: "interviewer" | "interviewee" | "other"}.

    ``smpl``: the video's `smpl` rows (video_id, track_id, frame, joints3d_m); ``n_frames``: the
    video's frame count; ``override``: explicit {track_id: role}, which always wins (unlisted
    tracks -> "other"; an unknown role raises ValueError). ``persons``: {track_id: person_id}
    (:mod:`tasks.people`): roles are a person's, so the framing heuristic scores each person
    over all their tracks, and an override's role for one track holds for the person's other
    tracks that it does not list (the lowest listed track of the person decides). This is
    exactly what :func:`analytics.compute_video_features` uses.
    """
    tracks = sorted(int(t) for t in smpl["track_id"].unique()) if len(smpl) else []
    person = {t: persons[t] for t in tracks} if persons is not None else {t: t for t in tracks}
    if override is not None:
        listed = check_override(override)
        by_person: dict[int, str] = {}
        for t in sorted(listed):
            if t in person:
                by_person.setdefault(person[t], listed[t])
        return {t: listed.get(t, by_person.get(person[t], "other")) for t in tracks}
    roles = roles_from_scores(video_framing_scores(smpl, n_frames, persons))
    return {t: roles[person[t]] for t in tracks}
