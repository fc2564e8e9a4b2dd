"""The main pair as two people: who they are, which tracks show them, and their signals on one
frame grid.

A track never spans a shot cut, and a person the tracker loses and finds again gets a new track,
so in an edited interview, or a long one, the interviewer and the interviewee are each several
tracks, joined by ``tracks.person_id`` (:mod:`tasks.people`). Orientation toward the partner and
synchrony are the two people's, measured on every frame both are seen in, whichever tracks show
them there; measuring one pair of tracks would leave out every other shot and every stretch
after a lost track. Lagged comparisons stay within one *segment*
(:func:`analytics.synchrony.lagged_xcorr_by_window`), so a cut is never read as both people
moving at once: a stretch of the video covered by a chain of the two people's overlapping track
spans. Tracks end at every cut, so a segment lies within one shot; within a shot it holds every
track of the two that overlaps another, so a track lost and found again does not split it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Dyad:
    """Two people (person ids; ``a`` the interviewer where the pair has roles) and their tracks."""

    a: int
    b: int
    tracks_a: tuple[int, ...]
    tracks_b: tuple[int, ...]

    @classmethod
    def of_tracks(cls, a: int, b: int) -> Dyad:
        """Two people of one track each, named by their track ids."""
        return cls(int(a), int(b), (int(a),), (int(b),))

    @property
    def tracks(self) -> tuple[int, ...]:
        return self.tracks_a + self.tracks_b

    def partner(self, track: int) -> tuple[int, tuple[int, ...], float]:
        """(partner's person id, partner's tracks, lag sign) for one of the pair's tracks; the
        sign turns a lag measured as a -> b into this person's side (> 0 = this person leads)."""
        if track in self.tracks_a:
            return self.b, self.tracks_b, 1.0
        if track in self.tracks_b:
            return self.a, self.tracks_a, -1.0
        raise KeyError(f"track {track} is not one of the pair's {self.tracks}")


def main_pair(
    roles: Mapping[int, str],
    frames: Mapping[int, np.ndarray] | None = None,
    persons: Mapping[int, int] | None = None,
) -> Dyad | None:
    """The interviewer and the interviewee as a :class:`Dyad`, or the two people of a
    two-person video without those roles; None otherwise.

    ``roles``: {track_id: role} (:func:`analytics.roles.video_roles`); ``persons``: {track_id:
    person_id} (None: every track its own person, named by its track id); ``frames``: each
    track's frame indices. Where several people hold a role (an override can list them), the pair
    is the interviewer and interviewee seen together in the most frames (then the lowest ids).
    A person's tracks in the pair are those with the person's role in it.
    """
    person = {int(t): (int(persons[t]) if persons is not None else int(t)) for t in roles}

    def tracks_of(p: int, role: str | None) -> tuple[int, ...]:
        return tuple(sorted(t for t in roles if person[t] == p and role in (None, roles[t])))

    def shared(a: tuple[int, ...], b: tuple[int, ...]) -> int:
        if frames is None:
            return 0
        seen_a = np.unique(np.concatenate([np.asarray(frames[t]) for t in a]))
        seen_b = np.unique(np.concatenate([np.asarray(frames[t]) for t in b]))
        return len(np.intersect1d(seen_a, seen_b, assume_unique=True))

    holders = {
        role: sorted({person[t] for t in roles if roles[t] == role})
        for role in ("interviewer", "interviewee")
    }
    pairs = [(a, b) for a in holders["interviewer"] for b in holders["interviewee"] if a != b]
    if pairs:
        scored = [
            (shared(tracks_of(a, "interviewer"), tracks_of(b, "interviewee")), -a, -b)
            for a, b in pairs
        ]
        _, a, b = max(scored)
        return Dyad(-a, -b, tracks_of(-a, "interviewer"), tracks_of(-b, "interviewee"))
    people = sorted(set(person.values()))
    if len(people) == 2:
        a, b = people
        return Dyad(a, b, tracks_of(a, None), tracks_of(b, None))
    return None


def person_rows(rows: pd.DataFrame, tracks: tuple[int, ...]) -> pd.DataFrame:
    """The rows of one person's ``tracks`` (``track_id``, ``frame`` columns), one per frame: where
    two of them have a row for one frame (spans that interleave), a row with data wins
    (``has_data`` where the table has it), then the later track."""
    return rows.iloc[person_positions(rows, tracks)]


def person_positions(rows: pd.DataFrame, tracks: tuple[int, ...]) -> np.ndarray:
    """The positions in ``rows`` of :func:`person_rows`, in frame order: for a caller that takes
    a few at a time, where a copy of all of them would hold a person's rows of the whole video
    (the joints of most of an hour's rows, 80 MiB, for the pair's partner)."""
    track = rows["track_id"].to_numpy(np.int64)
    frame = rows["frame"].to_numpy(np.int64)
    own = np.flatnonzero(np.isin(track, np.asarray(tracks, np.int64)))
    keys = [track[own]]  # sorted by frame, then data, then track; ties keep their order
    if "has_data" in rows:
        keys.append(rows["has_data"].to_numpy(bool)[own])
    own = own[np.lexsort((*keys, frame[own]))]
    ordered = frame[own]
    return own[np.r_[ordered[1:] != ordered[:-1], True]]  # the last row of each frame


def dyad_signals(
    frames: pd.DataFrame, dyad: Dyad, columns: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The two people's ``columns`` of ``features_frames`` on every video frame from the first
    either is seen in to the last: (grid of frames, {column: (a's values, b's values)}, segment).
    Values are NaN where a person has no row; ``segment`` numbers the stretches covered by chains
    of overlapping track spans (module docstring) in the order they start, -1 between them."""
    # only the columns read: whole rows, copied four times over, were 75 MiB more at the peak
    # of an hour with a cut every 3 s
    keys = [c for c in ("frame", "has_data", "track_id") if c in frames]
    frames = frames[[*keys, *(c for c in columns if c not in keys)]]
    a_rows, b_rows = person_rows(frames, dyad.tracks_a), person_rows(frames, dyad.tracks_b)
    if a_rows.empty and b_rows.empty:
        return np.zeros(0, np.int64), {c: (np.zeros(0), np.zeros(0)) for c in columns}, np.zeros(0)
    seen = pd.concat([a_rows["frame"], b_rows["frame"]]).astype(np.int64)
    grid = np.arange(int(seen.min()), int(seen.max()) + 1)
    a_on, b_on = a_rows.set_index("frame").reindex(grid), b_rows.set_index("frame").reindex(grid)
    values = {
        c: (
            a_on[c].to_numpy(np.float64, na_value=np.nan),
            b_on[c].to_numpy(np.float64, na_value=np.nan),
        )
        for c in columns
    }
    own = frames.loc[frames["track_id"].isin(dyad.tracks), ["track_id", "frame"]]
    own = own.groupby("track_id")["frame"]
    segment = np.full(len(grid), -1, np.int64)
    k, end = -1, -np.inf
    for lo, hi in sorted(zip(own.min().astype(int), own.max().astype(int), strict=True)):
        if lo > end:  # no span so far reaches it: a new stretch
            k += 1
        end = max(end, hi)
        segment[lo - grid[0] : hi - grid[0] + 1] = k
    return grid, values, segment
