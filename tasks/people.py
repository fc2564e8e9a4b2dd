"""One person across shot cuts: tracks linked by how the person looks.

A track never spans a cut (:mod:`tasks.tracking`), so in an edited interview the interviewee
seen in twenty shots is twenty tracks, and the role heuristic, the per-person summaries and the
figures counted each as someone else. This module gives every track a ``person_id``: tracks
that show the same person get the same one.

**What is compared.** Nothing here recognises faces (no model for it ships offline). What stays
the same across an interview's cuts is what people wear and how their head looks in colour: for
each track, colour histograms of two body parts, from a few frames spread over the track, at the
places its fitted 2D joints put them where the joints were observed (``smpl.joints_observed``):

* the *torso*: between the shoulders, from just below them to the hips (or, where the hips are
  out of view, one shoulder width down): clothing;
* the *head*: a square on the face's centre (nose, eyes, ears), as wide as the head: skin and
  hair.

Histograms are of hue and saturation for coloured pixels and of brightness for grey ones
(:func:`colour_histogram`), so they do not depend on a part's size in the image: a close-up and
a wide shot of the same jacket match. Two tracks' distance is the mean Hellinger distance of the
parts both show.

**How tracks are joined** (:func:`link_tracks`): average-linkage clustering that never joins
two tracks seen in the same frame (two people in one shot are two people) and stops at
``max_distance``. Conservative by design: two people dressed alike who are never seen together
can be joined (then ``roles`` says so), and a person who changes clothes is two; a track with no
observed torso or head stays on its own.

**Black-and-white footage is not joined.** Without colour the histograms hold four brightness
bins, and people dressed in dark clothes look alike: on grey copies of the real edits of
``benchmarks/people.py`` the two least alike tracks of one person were farther apart (0.11) than
the two most alike of two people (0.03), and three people became two (11 wrong joins). A wrong
join mixes two people's figures, a missed one only splits a person's, so where the people's
pixels hold almost no colour (:data:`MIN_COLOUR_SHARE`) every track stays its own person.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from analytics import joints as J
from tasks.decode import iter_chunks
from tasks.memory import release_freed_memory
from tasks.probe import VideoInfo
from tasks.sequence import SmplSequence

#: frames sampled per track for its appearance (spread evenly over the frames it is seen in)
FRAMES_PER_TRACK = 8
#: hue x saturation bins for coloured pixels, brightness bins for grey ones
HUE_BINS, SAT_BINS, GREY_BINS = 12, 3, 4
#: pixels less saturated, or darker, than this are "grey" (hue is noise there)
GREY_BELOW = 0.2
PARTS = ("torso", "head")
#: frames decoded per batch, and FFmpeg's decoding threads. Why fewer than elsewhere: the frames
#: sampled here lie far apart, and decord held about 450 MiB for batches of 64 such frames, 120
#: MiB for 16 (flat in the number of batches; measured on the hour of
#: ``benchmarks/long_input.py``). Batches of 8 on one thread: on the ten minutes' 3,200 frames
#: +76-79 MiB against +105-136 for 16 on FFmpeg's threads, in 12.6-13.7 s against 11.5-13.3 s
#: (one thread is as fast here: each frame is decoded on from a key frame, which frame threads
#: barely speed up, while each thread holds frames of its own, more the larger the frame).
DECODE_CHUNK, DECODE_THREADS = 8, 1
#: below this mean share of coloured pixels in the people's parts a video has no colour to compare
#: (``benchmarks/people.py``: grey copies of its real edits under 0.005, the colour ones 0.64-0.82)
MIN_COLOUR_SHARE = 0.02

logger = logging.getLogger(__name__)
HEAD_POINTS = (J.NOSE, *(J._idx(n) for n in ("OP REye", "OP LEye")), J.R_EAR, J.L_EAR)


def colour_histogram(pixels_rgb: np.ndarray) -> np.ndarray | None:
    """Normalised histogram of (N, 3) uint8 RGB pixels: hue x saturation of the coloured ones,
    then brightness of the grey ones; None for fewer than 50 pixels."""
    if len(pixels_rgb) < 50:
        return None
    rgb = pixels_rgb.astype(np.float64) / 255.0
    top, bottom = rgb.max(axis=1), rgb.min(axis=1)
    sat = np.where(top > 0, (top - bottom) / np.maximum(top, 1e-9), 0.0)
    span = np.maximum(top - bottom, 1e-9)
    r, g, b = rgb.T
    hue = (
        np.select(
            [top == r, top == g], [((g - b) / span) % 6, (b - r) / span + 2], (r - g) / span + 4
        )
        / 6.0
    )
    grey = (sat < GREY_BELOW) | (top < GREY_BELOW)
    colour = np.histogram2d(
        hue[~grey], sat[~grey], bins=(HUE_BINS, SAT_BINS), range=((0, 1), (GREY_BELOW, 1))
    )[0].ravel()
    greys = np.histogram(top[grey], bins=GREY_BINS, range=(0, 1))[0]
    counts = np.concatenate([colour, greys])
    return counts / counts.sum()


def part_boxes(joints2d: np.ndarray, observed: np.ndarray, hw: tuple[int, int]) -> dict:
    """{part: (x0, y0, x1, y1) int px} of the parts this person-frame shows (module docstring),
    from (49, 2) joints and their (49,) observed flags; parts under 8 px across are left out."""
    height, width = hw
    boxes: dict[str, tuple[int, int, int, int]] = {}
    shoulders = joints2d[[J.R_SHOULDER, J.L_SHOULDER]]
    if observed[[J.R_SHOULDER, J.L_SHOULDER]].all():
        span = float(np.linalg.norm(shoulders[0] - shoulders[1]))
        x0, x1 = np.sort(shoulders[:, 0])
        inset = 0.15 * (x1 - x0)
        top = shoulders[:, 1].mean() + 0.1 * span
        hips = [J.R_HIP, J.L_HIP]
        bottom = joints2d[hips, 1].mean() if observed[hips].all() else top + span
        boxes["torso"] = (x0 + inset, top, x1 - inset, bottom)
    face = [k for k in HEAD_POINTS if observed[k]]
    if len(face) >= 3:
        points = joints2d[face]
        centre = points.mean(axis=0)
        half = 0.6 * float(np.ptp(points[:, 0]))
        if observed[[J.R_EAR, J.L_EAR]].sum() < 2:  # eyes and nose alone are narrower
            half *= 1.4
        boxes["head"] = (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)
    out = {}
    for part, (x0, y0, x1, y1) in boxes.items():
        a = (int(max(x0, 0)), int(max(y0, 0)), int(min(x1, width)), int(min(y1, height)))
        if a[2] - a[0] >= 8 and a[3] - a[1] >= 8:
            out[part] = a
    return out


def track_appearance(info: VideoInfo, seq: SmplSequence) -> dict[int, dict[str, np.ndarray]]:
    """{track_id: {part: mean colour histogram}} over up to :data:`FRAMES_PER_TRACK` frames of
    each track (decoded once, in frame order)."""
    wanted: dict[int, list[int]] = {}  # frame -> rows of seq
    for track in np.unique(seq.track_id):
        rows = np.flatnonzero(seq.track_id == track)
        rows = rows[np.argsort(seq.frame[rows], kind="stable")]
        picks = np.unique(np.linspace(0, len(rows) - 1, FRAMES_PER_TRACK).round().astype(int))
        for row in rows[picks]:
            wanted.setdefault(int(seq.frame[row]), []).append(int(row))
    sums: dict[int, dict[str, list[np.ndarray]]] = {}
    hw = (info.height_px, info.width_px)
    for indices, frames in iter_chunks(
        info, DECODE_CHUNK, frames=sorted(wanted), threads=DECODE_THREADS
    ):
        for frame_index, image in zip(indices, frames, strict=True):
            for row in wanted[int(frame_index)]:
                observed = np.asarray(seq.joints_observed[row], bool)
                for part, (x0, y0, x1, y1) in part_boxes(
                    seq.joints2d_px[row], observed, hw
                ).items():
                    hist = colour_histogram(image[y0:y1, x0:x1].reshape(-1, 3))
                    if hist is not None:
                        track = int(seq.track_id[row])
                        sums.setdefault(track, {}).setdefault(part, []).append(hist)
    return {
        int(t): {part: np.mean(h, axis=0) for part, h in sums.get(int(t), {}).items()}
        for t in np.unique(seq.track_id)
    }


def colour_share(appearance: Mapping[int, Mapping[str, np.ndarray]]) -> float:
    """Mean share of coloured (not grey) pixels over every track's parts; NaN with no parts."""
    shares = [
        h[: HUE_BINS * SAT_BINS].sum() for parts in appearance.values() for h in parts.values()
    ]
    return float(np.mean(shares)) if shares else float("nan")


def appearance_distance(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    """Mean Hellinger distance over the parts both tracks show; inf when they share none
    (:func:`distance_matrix` of the two: one definition for one pair and for many)."""
    return float(distance_matrix({0: a, 1: b}, [0, 1])[0, 1])


def distance_matrix(
    appearance: Mapping[int, Mapping[str, np.ndarray]], tracks: list[int]
) -> np.ndarray:
    """(n, n) :func:`appearance_distance` of every two of ``tracks`` (inf on the diagonal), the
    same values, a row of pairs at a time: pair by pair it took 6.5 million Python calls for the
    3,600 tracks of an hour with a cut every 3 s. The matrix is the only n x n array made (100
    MiB at 3,600 tracks): the count of parts two tracks share is a row's at a time."""
    n = len(tracks)
    parts = {}  # part -> (which tracks show it, their histograms)
    for part in PARTS:
        has = np.array([part in appearance[t] for t in tracks], bool)
        if has.any():
            width = len(next(appearance[t][part] for t in tracks if part in appearance[t]))
            parts[part] = has, np.stack([appearance[t].get(part, np.zeros(width)) for t in tracks])
    dist = np.zeros((n, n))
    for i in range(n):
        row, shared = dist[i], np.zeros(n, np.int8)
        for has, hists in parts.values():  # in PARTS order: the sum's order is fixed
            if has[i]:
                overlap = np.sqrt(hists[i] * hists[has]).sum(axis=1)
                row[has] += np.sqrt(np.maximum(0.0, 1.0 - overlap))
                shared += has
        np.divide(row, shared, out=row, where=shared > 0)
        row[shared == 0] = np.inf
    np.fill_diagonal(dist, np.inf)
    return dist


def link_tracks(
    appearance: Mapping[int, Mapping[str, np.ndarray]],
    together: set[tuple[int, int]],
    max_distance: float,
) -> dict[int, int]:
    """{track_id: person_id}: average-linkage groups of tracks (module docstring), numbered from
    0 in order of each person's first track id. ``together``: pairs of tracks seen in one frame,
    which no group may hold both of. Written here because scipy's ``linkage`` and
    scikit-learn's agglomerative clustering take no such cannot-join pairs (scikit-learn's
    ``connectivity`` limits merges to neighbours, the opposite). Each merge updates only the two
    groups' rows and columns of the distances it chooses from, so n tracks cost n searches of an
    n x n matrix (3,600 tracks, an hour with a cut every 3 s: measured in
    ``benchmarks/long_input.py``)."""
    tracks = sorted(appearance)
    index = {t: i for i, t in enumerate(tracks)}
    n = len(tracks)
    # Distances of groups that may be joined, inf where they may not. One matrix is enough:
    # groups apart stay apart after every merge, so a distance between them is never read
    # (and at 3,600 tracks each n x n matrix is 100 MiB).
    allowed = distance_matrix(appearance, tracks)
    apart = np.zeros((n, n), bool)  # groups that may not be joined
    for a, b in together:
        apart[index[a], index[b]] = apart[index[b], index[a]] = True
    allowed[apart] = np.inf
    size = np.ones(n)
    members = [[i] for i in range(n)]
    while n > 1:  # ends when no two groups may be joined
        a, b = np.unravel_index(np.argmin(allowed), allowed.shape)
        if not allowed[a, b] <= max_distance:
            break
        # average linkage (Lance-Williams): the mean of the member tracks' distances
        merged = (size[a] * allowed[a] + size[b] * allowed[b]) / (size[a] + size[b])
        apart[a] |= apart[b]
        apart[:, a] = apart[a]
        merged[apart[a]] = np.inf
        merged[a] = np.inf
        allowed[a], allowed[:, a] = merged, merged
        allowed[b], allowed[:, b] = np.inf, np.inf
        size[a] += size[b]
        members[a] += members[b]
        members[b] = []
    groups = sorted((m for m in members if m), key=min)
    return {tracks[i]: person for person, group in enumerate(groups) for i in group}


def seen_together(seq: SmplSequence) -> set[tuple[int, int]]:
    """Pairs (a < b) of tracks that share a frame."""
    pairs: set[tuple[int, int]] = set()
    order = np.argsort(seq.frame, kind="stable")
    frames, tracks = seq.frame[order], seq.track_id[order]
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    for group in np.split(tracks, starts[1:]):
        ids = sorted(set(int(t) for t in group))
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs


def own_persons(track_ids: np.ndarray) -> dict[int, int]:
    """{track_id: person_id} with every track its own person (numbered in track order)."""
    return {int(t): i for i, t in enumerate(np.unique(track_ids))}


def link_people(info: VideoInfo, seq: SmplSequence, max_distance: float) -> dict[int, int]:
    """{track_id: person_id} for a video's estimated tracks (the ``people`` stage)."""
    if len(seq) == 0:
        return {}
    if max_distance <= 0:  # linking off
        return own_persons(seq.track_id)
    appearance = track_appearance(info, seq)
    # decoding leaves its frames' memory free in the heap (130 MiB an hour), where the n x n
    # distances would come on top of it
    release_freed_memory()
    share = colour_share(appearance)
    if share < MIN_COLOUR_SHARE:  # NaN (no parts seen) joins nothing either way
        logger.info(
            "%s: %.1f %% of the people's pixels have colour; tracks are not joined across cuts",
            info.path, 100 * share,
        )  # fmt: skip
        return own_persons(seq.track_id)
    return link_tracks(appearance, seen_together(seq), max_distance)
