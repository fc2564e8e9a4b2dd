"""Interviewer / interviewee role assignment.

Without audio nobody knows who asks the questions, so the default is a framing heuristic: an
interview camera frames the interviewee, who is therefore the person seen largest (shoulder
width / depth, i.e. apparent size) for the largest share of the video; the interviewer is the
next one; everybody else is "other". Symmetric two-shots defeat it, hence the explicit
per-video override, which always wins.
"""

from __future__ import annotations

import numpy as np

from analytics import joints as J

ROLES = ("interviewer", "interviewee", "other")


def framing_score(j: np.ndarray) -> float:
    """Presence fraction x median apparent size (shoulder width / depth), larger = more framed."""
    width = np.linalg.norm(j[:, J.L_SHOULDER] - j[:, J.R_SHOULDER], axis=-1)
    depth = j[:, J.NECK, 2]
    size = width / np.where(depth > 1e-3, depth, np.nan)
    present = ~np.isnan(size)
    if not present.any():
        return 0.0
    return float(present.mean() * np.nanmedian(size))


def assign_roles(
    joints_by_track: dict[int, np.ndarray], override: dict[int, str] | None = None
) -> dict[int, str]:
    """Role per track id. ``override`` (track_id -> role) is used as is; unlisted tracks are "other"."""
    if override is not None:
        bad = {r for r in override.values() if r not in ROLES}
        if bad:
            raise ValueError(f"unknown roles {sorted(bad)}; expected one of {ROLES}")
        return {int(t): override.get(int(t), "other") for t in joints_by_track}
    order = sorted(joints_by_track, key=lambda t: (-framing_score(joints_by_track[t]), t))
    roles = dict.fromkeys(order, "other")
    for track, role in zip(order, ("interviewee", "interviewer"), strict=False):
        roles[track] = role
    return {int(t): roles[t] for t in joints_by_track}


def main_pair(roles: dict[int, str]) -> tuple[int, int] | None:
    """(interviewer, interviewee) when both exist, else the two tracks of a two-track video."""
    by_role = {r: t for t, r in roles.items() if r != "other"}
    if "interviewer" in by_role and "interviewee" in by_role:
        return by_role["interviewer"], by_role["interviewee"]
    if len(roles) == 2:
        a, b = sorted(roles)
        return a, b
    return None
