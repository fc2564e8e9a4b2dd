"""The ``pmrr`` command: process videos, run the seed's demos, inspect checkpoints and assets.

Subcommands import their machinery lazily so that ``pmrr --help`` answers instantly and an
error in one area (say, a missing renderer) does not break the others.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _cmd_process(args: argparse.Namespace) -> int:
    from flows.run import process

    results = process(
        args.inputs,
        out=args.out,
        estimator=args.estimator,
        checkpoint=args.checkpoint,
        data_dir=args.data_dir,
        render=args.render,
        progress=not args.quiet,
        force=args.force,
        detector=args.detector,
        device=args.device,
        detector_config=args.detector_config,
        detector_checkpoint=args.detector_checkpoint,
    )
    failed = [r for r in results if r.get("status") == "failed"]
    return 1 if failed and len(failed) == len(results) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if bool(args.img_file) == bool(args.vid_file):
        raise SystemExit("pmrr demo: give exactly one of --img_file or --vid_file")
    if args.img_file:
        from pmrr_interviews.demo import run_image_demo

        run_image_demo(
            args.img_file,
            output_folder=args.output_folder,
            checkpoint=args.checkpoint,
            data_dir=args.data_dir,
        )
    else:
        from flows.run import video_demo

        video_demo(
            args.vid_file,
            output_folder=args.output_folder,
            checkpoint=args.checkpoint,
            data_dir=args.data_dir,
        )
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pmrr_interviews.samples import write_samples

    for path in write_samples(Path(args.folder)):
        print(path)
    return 0


def _cmd_checkpoint_inspect(args: argparse.Namespace) -> int:
    from pmrr_model.assets import resolve_assets
    from pmrr_model.checkpoint import CheckpointError, describe_checkpoint
    from pmrr_model.network import build_pmrr

    model = build_pmrr(resolve_assets(args.data_dir))
    try:
        print(describe_checkpoint(args.file, model))
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _cmd_assets(args: argparse.Namespace) -> int:
    from pmrr_model.assets import resolve_assets
    from pmrr_model.body_model import BodyModel

    assets = resolve_assets(args.data_dir)
    body = BodyModel(assets)
    print(
        f"assets: {assets.describe()}  ({'the user’s SMPL files' if assets.kind == 'smpl' else 'generated stand-in, not SMPL'})"
    )
    print(f"folder: {assets.root}")
    print(f"body model: {body.num_vertices} vertices, {len(body.faces)} faces")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmrr", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--checkpoint", default=None, help="PMRR checkpoint ({'model': state_dict})")
        p.add_argument(
            "--data-dir",
            "--data_dir",
            dest="data_dir",
            default=None,
            help="folder with SMPL files in the seed's data/ layout",
        )

    process = sub.add_parser("process", help="videos -> SMPL tables, features and mesh videos")
    process.add_argument("inputs", nargs="+", help="video files, folders, globs or fsspec URLs")
    process.add_argument("--out", required=True, help="output folder or URL (file://, s3://, ...)")
    process.add_argument(
        "--estimator", default="landmark-fit", choices=["landmark-fit", "pmrr", "pmrr+fit"]
    )
    process.add_argument(
        "--render",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write renders/{video_id}.mp4",
    )
    process.add_argument("--quiet", action="store_true", help="no progress bar")
    process.add_argument("--detector", default="mediapipe", choices=["mediapipe", "mmdet"])
    process.add_argument("--device", default="cpu", help="torch device for PMRR, e.g. cuda")
    process.add_argument("--detector-config", default=None, help="mmdet config file")
    process.add_argument("--detector-checkpoint", default=None, help="mmdet checkpoint file")
    process.add_argument(
        "--force", action="store_true", help="redo videos already committed (replaces their rows)"
    )
    add_model_options(process)
    process.set_defaults(func=_cmd_process)

    demo = sub.add_parser("demo", help="the seed's single-image / video demo")
    demo.add_argument("--img_file", default=None)
    demo.add_argument("--vid_file", default=None)
    demo.add_argument("--output_folder", default="output")
    add_model_options(demo)
    demo.set_defaults(func=_cmd_demo)

    samples = sub.add_parser(
        "samples", help="write the built-in sample videos (real clips that ship offline)"
    )
    samples.add_argument("folder")
    samples.set_defaults(func=_cmd_samples)

    checkpoint = sub.add_parser("checkpoint", help="checkpoint tools")
    checkpoint_sub = checkpoint.add_subparsers(dest="checkpoint_command", required=True)
    inspect = checkpoint_sub.add_parser("inspect", help="what a checkpoint is and whether it fits")
    inspect.add_argument("file")
    inspect.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None)
    inspect.set_defaults(func=_cmd_checkpoint_inspect)

    assets = sub.add_parser(
        "assets", help="which body-model files a run would use (generates the stand-in)"
    )
    assets.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None)
    assets.set_defaults(func=_cmd_assets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # per-request and GL-platform chatter drowns the stage log
        for noisy in (
            "httpx",
            "OpenGL",
            "OpenGL.platform.baseplatform",
            "OpenGL.acceleratesupport",
        ):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
