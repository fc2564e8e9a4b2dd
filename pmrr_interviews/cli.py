"""The ``pmrr`` command: process videos, run the seed's demos, inspect checkpoints and assets.

Subcommands import their machinery lazily so that ``pmrr --help`` answers instantly and an
error in one area (say, a missing renderer) does not break the others.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from pmrr_model.evaluation.benchmark import add_arguments as add_eval_arguments


def _cmd_process(args: argparse.Namespace) -> int:
    from flows.config import ConfigError, load_config
    from flows.run import EXIT_USAGE, exit_code, process

    try:
        config = load_config(**_config_overrides(args))
    except ConfigError as error:
        print(f"pmrr process: {error}", file=sys.stderr)
        return EXIT_USAGE
    if not args.verbose:
        _quiet_prefect_console()
    rows = process(
        args.inputs,
        out=args.out,
        config=config,
        force=args.force,
        cache_dir=args.cache_dir,
        progress=not args.quiet,
    )
    return exit_code(rows)


def _quiet_prefect_console() -> None:
    """Keep Prefect's per-task log lines and tracebacks off the terminal (they still reach the
    Prefect API and UI); the CLI prints one line per video instead. ``--verbose`` shows all."""
    import prefect  # noqa: F401  (sets up Prefect's logging handlers)
    from prefect.logging.handlers import PrefectConsoleHandler

    def drop(_record: logging.LogRecord) -> bool:
        return False

    loggers = [logging.getLogger(), *map(logging.getLogger, list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and drop not in handler.filters:
                handler.addFilter(drop)


def _cmd_ls(args: argparse.Namespace) -> int:
    """One line per committed video: id, status, estimator, assets, failed stages, source.
    The output is opened as ``pmrr query`` opens it (a missing folder or a file is a usage
    error, exit 2, not "0 committed videos"; interrupted commits are finished first)."""
    from pmrr_interviews.query import QueryError, open_store

    try:
        store = open_store(args.out)
    except QueryError as error:
        print(f"pmrr ls: {error}", file=sys.stderr)
        return error.exit_code
    ids = store.committed_videos()
    print(f"{'video_id':<16}  {'status':<7}  {'estimator':<12}  {'assets':<21}  failed  source")
    for video_id in ids:
        manifest = store.manifest(video_id) or {}
        failed = ",".join(sorted(manifest.get("failures") or {})) or "-"
        print(
            f"{video_id:<16}  {manifest.get('status', '?'):<7}  "
            f"{manifest.get('estimator', '?'):<12}  {manifest.get('assets', '?'):<21}  "
            f"{failed:<6}  {manifest.get('source_uri', '?')}"
        )
    print(f"{len(ids)} committed videos in {store.url}")
    return 0


def _cmd_query(args: argparse.Namespace) -> int:
    from pmrr_interviews.query import command

    return command(args)


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

        model = {"checkpoint": args.checkpoint, "estimator": "pmrr"} if args.checkpoint else {}
        video_demo(args.vid_file, output_folder=args.output_folder, data_dir=args.data_dir, **model)
    return 0


def _cmd_samples(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pmrr_interviews.samples import write_samples

    folder = Path(args.folder)
    if folder.exists() and not folder.is_dir():
        print(f"pmrr samples: {folder}: is a file, not a folder", file=sys.stderr)
        return 2
    for path in write_samples(folder):
        print(path)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    """Ground-truth accuracy: the synthetic-scene benchmark (pmrr_model/evaluation/benchmark.py)
    or the seed's 3DPW / H36M / COCO protocols (pmrr_model/evaluation/seed_run.py)."""
    if bool(args.synthetic) == bool(args.dataset):
        print("pmrr eval: give exactly one of --synthetic or --dataset", file=sys.stderr)
        return 2
    if args.dataset:
        return _cmd_eval_dataset(args)
    from pmrr_model.evaluation.benchmark import run_args

    run_args(args)
    return 0


def _cmd_eval_dataset(args: argparse.Namespace) -> int:
    missing = [
        flag
        for flag, value in (("--checkpoint", args.checkpoint), ("--images", args.images))
        if not value and not (flag == "--images" and args.dataset == "synthetic")
    ]
    if missing:
        print(f"pmrr eval --dataset: {' and '.join(missing)} required", file=sys.stderr)
        return 2
    from pmrr_model.assets import AssetError
    from pmrr_model.checkpoint import CheckpointError
    from pmrr_model.devices import DeviceError
    from pmrr_model.evaluation.seed_data import SeedDataError
    from pmrr_model.evaluation.seed_run import evaluate, summary

    out = args.out or f"pmrr_eval_{args.dataset}.json"
    try:
        result = evaluate(
            args.dataset,
            args.checkpoint,
            args.images,
            data_dir=args.data_dir,
            out=out,
            batch_size=args.batch_size,
            device=args.device,
            limit=args.limit,
            annotations=args.annotations,
            progress=not args.quiet,
        )
    except (SeedDataError, CheckpointError, AssetError, DeviceError) as error:
        print(f"pmrr eval: {error}", file=sys.stderr)
        return 2
    print(summary(result))
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


def _cmd_train(args: argparse.Namespace) -> int:
    """``pmrr train``: the seed's training recipe, or (``--make-synthetic``) a stand-in data set."""
    from pmrr_model.checkpoint import CheckpointError
    from pmrr_model.training.spin_format import DatasetError

    if args.make_synthetic:
        from pmrr_model.training.synthetic import make_synthetic_set

        paths = make_synthetic_set(args.make_synthetic, args.n, args.n_val, seed=args.seed)
        for split, path in paths.items():
            print(f"{split}: {path}")
        return 0
    if not args.data or not args.out:
        print(
            "pmrr train: --data and --out are required (or --make-synthetic DIR)", file=sys.stderr
        )
        return 2
    from pmrr_model.training.losses import LossWeights
    from pmrr_model.training.trainer import TrainConfig, Trainer, TrainingDiverged

    config = TrainConfig(
        data=args.data,
        out=args.out,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        val=args.val,
        val_every=args.val_every,
        save_every=args.save_every,
        log_every=args.log_every,
        device=args.device,
        seed=args.seed,
        workers=args.workers,
        proportions=args.proportions,
        image_root=args.image_root,
        resume=args.resume,
        init=args.init,
        data_dir=args.data_dir,
        uv_processed=args.uv_processed,
        weights=LossWeights(openpose=args.openpose_weight),
        freeze_backbone=args.freeze_backbone,
    )
    try:
        trainer = Trainer(config)
        curve = trainer.fit()
    except (DatasetError, CheckpointError) as error:
        print(f"pmrr train: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"pmrr train: {error}", file=sys.stderr)
        return 1
    for row in curve:
        if "pa_mpjpe_mm" in row:
            print(f"step {int(row['step'])}: val PA-MPJPE {row['pa_mpjpe_mm']:.1f} mm")
    print(f"checkpoint: {trainer.out / 'checkpoint.pt'} (step {trainer.step})")
    return 0


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`flows.config.PipelineConfig` field (``--detect-every-k``, also
    spelled ``--detect_every_k`` as in the seed). Options not given keep the model's default
    (argparse stores nothing for them), so the model stays the only source of defaults."""
    import typing

    from flows.config import PipelineConfig, parse_roles

    for name, field in PipelineConfig.model_fields.items():
        flags = [f"--{name.replace('_', '-')}"] + ([f"--{name}"] if "_" in name else [])
        default = field.get_default(call_default_factory=True)
        kwargs: dict = {"dest": name, "default": argparse.SUPPRESS}
        shown = "unset" if default is None else default
        kwargs["help"] = f"{field.description} (default: {shown})"
        annotation = _given_type(field.annotation)
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(annotation) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(annotation))
        elif name == "roles":
            kwargs["type"] = _argument(parse_roles)
        elif annotation in (int, float):
            kwargs["type"] = annotation
        parser.add_argument(*flags, **kwargs)


def _given_type(annotation):
    """What an option takes: ``X`` of an optional field ``X | None`` (unset = not given), so
    ``--precision`` keeps its choices and ``--chunk-size`` its int check."""
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        given = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(given) == 1:
            return given[0]
    return annotation


def _argument(parse):
    """``parse`` as an argparse type whose error message is shown as it is (argparse replaces
    a ValueError's by "invalid parse_roles value")."""

    def parsed(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parsed


def _config_overrides(args: argparse.Namespace) -> dict:
    from flows.config import PipelineConfig

    return {
        name: getattr(args, name) for name in PipelineConfig.model_fields if hasattr(args, name)
    }


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

    process = sub.add_parser(
        "process",
        help="videos -> SMPL tables, features and mesh videos",
        description="Exit status: 0 every video ok or skipped, 1 every video failed, "
        "2 invalid options, 3 some videos failed or lack an output.",
    )
    process.add_argument("inputs", nargs="+", help="video files, folders, globs or fsspec URLs")
    process.add_argument("--out", required=True, help="output folder or URL (file://, s3://, ...)")
    add_config_options(process)
    process.add_argument("--quiet", action="store_true", help="no progress bar")
    process.add_argument(
        "--force", action="store_true", help="recompute every stage and rewrite every output"
    )
    process.add_argument("--cache-dir", default=None, help="stage cache (default: OUT/_cache)")
    process.set_defaults(func=_cmd_process)

    ls = sub.add_parser("ls", help="committed videos of an output: status, estimator, assets")
    ls.add_argument("out")
    ls.set_defaults(func=_cmd_ls)

    query = sub.add_parser(
        "query",
        help="SQL (DuckDB) over the committed tables of an output",
        usage="%(prog)s [-h] [--tables] [--format {table,csv,json}] [--output FILE] "
        "[--max-rows N] OUT [SQL]",
        description="One view per table (videos, shots, tracks, smpl, features_frames, "
        "features_windows, features_summary, features_people, events) over the committed "
        "files only. Exit status: 0 done, 1 the output could not be read, 2 invalid SQL or arguments.",
    )
    query.add_argument("out", help="output folder or URL (file://, s3://, ...)")
    # optional (with --tables) but not nargs="?", which would make argparse refuse options
    # between OUT and SQL
    query.add_argument("sql", help="SQL to run; - reads it from stdin").required = False
    query.add_argument("--tables", action="store_true", help="list the views and their columns")
    query.add_argument(
        "--format", choices=["table", "csv", "json"], default=None, help="default: table"
    )
    query.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="FILE",
        help="write the result to FILE (.csv, .parquet, .json)",
    )
    query.add_argument(
        "--max-rows",
        type=int,
        default=100,
        metavar="N",
        help="rows shown by --format table (default: 100)",
    )
    query.set_defaults(func=_cmd_query)

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

    evaluate = sub.add_parser(
        "eval",
        help="accuracy against ground truth (synthetic scenes, or the seed's 3DPW/H36M/COCO)",
        description="--synthetic: generates synthetic interview scenes with known bodies "
        "(cached), runs the pipeline on them and prints one table of detection, pose, measure "
        "and event metrics. --dataset: the seed's protocol on your preprocessed file "
        "(DATA/dataset_extras/*.npz), images and checkpoint, or (synthetic) on a set made by "
        "`pmrr train --make-synthetic`; writes a JSON and a per-sample parquet. Exit status 2 "
        "on bad input.",
    )
    evaluate.add_argument("--synthetic", action="store_true", help="the synthetic-scene benchmark")
    add_eval_arguments(evaluate)
    seed = evaluate.add_argument_group("seed protocols (--dataset)")
    seed.add_argument(
        "--dataset",
        choices=["3dpw", "h36m", "coco", "synthetic"],
        default=None,
        help="synthetic: the 3DPW protocol on the validation split of a set made by `pmrr train "
        "--make-synthetic DIR` (give --data-dir DIR)",
    )
    add_model_options(seed)
    seed.add_argument(
        "--images",
        default=None,
        help="folder the file's imgname is relative to (synthetic: the split's own folder)",
    )
    seed.add_argument("--out", default=None, help="results JSON (default pmrr_eval_DATASET.json)")
    seed.add_argument("--batch-size", type=int, default=32)
    seed.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    seed.add_argument("--limit", type=int, default=None, help="first N samples only")
    seed.add_argument(
        "--annotations",
        default=None,
        help="COCO person-keypoint json (default IMAGES/annotations/person_keypoints_val2014.json)",
    )
    seed.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=_cmd_eval)

    checkpoint = sub.add_parser("checkpoint", help="checkpoint tools")
    checkpoint_sub = checkpoint.add_subparsers(dest="checkpoint_command", required=True)
    inspect = checkpoint_sub.add_parser("inspect", help="what a checkpoint is and whether it fits")
    inspect.add_argument("file")
    inspect.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None)
    inspect.set_defaults(func=_cmd_checkpoint_inspect)

    train = sub.add_parser(
        "train",
        help="the seed's training recipe on SPIN/EFT-format npz files",
        description="Train PMRR (PyMAF's losses and weights, Adam) on SPIN-format annotation "
        "files, or write a stand-in data set with --make-synthetic DIR.",
    )
    train.add_argument("--data", nargs="+", help="npz files or folders of them")
    train.add_argument("--out", help="run folder: checkpoint.pt, train_log.csv, val_curve.csv")
    train.add_argument("--steps", type=int, default=1000, help="total optimiser steps")
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=5e-5)
    train.add_argument("--val", nargs="+", default=[], help="validation npz files or folders")
    train.add_argument("--val-every", type=int, default=500)
    train.add_argument("--save-every", type=int, default=1000)
    train.add_argument("--log-every", type=int, default=10)
    train.add_argument("--resume", default=None, help="checkpoint of `pmrr train` to continue")
    train.add_argument("--init", default=None, help="start from these weights (released layout)")
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    train.add_argument("--workers", type=int, default=0, help="data-loading processes")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--proportions", nargs="+", type=float, default=None, help="share of each --data file"
    )
    train.add_argument("--image-root", default=None, help="image folder (default: each npz's)")
    train.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None)
    train.add_argument("--uv-processed", default=None, help="DensePose UV_Processed.mat")
    train.add_argument("--openpose-weight", type=float, default=0.0)
    train.add_argument(
        "--freeze-backbone",
        action="store_true",
        help="train all but the ResNet-50 encoder (fine-tuning a released checkpoint)",
    )
    train.add_argument("--make-synthetic", metavar="DIR", default=None)
    train.add_argument("--n", type=int, default=64, help="--make-synthetic: training samples")
    train.add_argument("--n-val", type=int, default=None, help="validation samples (n/4)")
    train.set_defaults(func=_cmd_train)

    assets = sub.add_parser(
        "assets", help="which body-model files a run would use (generates the stand-in)"
    )
    assets.add_argument("--data-dir", "--data_dir", dest="data_dir", default=None)
    assets.set_defaults(func=_cmd_assets)
    return parser


class _TerminalFormatter(logging.Formatter):
    """One line per record: the message without a traceback (``--verbose`` shows them)."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return ""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_text
        record.exc_text = ""
        try:
            return super().format(record).rstrip()
        finally:
            record.exc_text = saved


def _not_prefect(record: logging.LogRecord) -> bool:
    """Prefect's run logs go to the Prefect API/UI; the terminal gets the CLI's own lines."""
    return not record.name.startswith("prefect")


#: Errors whose message already names the file and the problem (a checkpoint that is no
#: checkpoint, an output that is a file, missing body-model files): the user gets that line, not
#: a traceback. Looked up in ``sys.modules`` rather than imported, so that ``pmrr ls`` does not
#: import torch to be able to name an error it cannot raise.
EXPLAINED_ERRORS = (
    ("storage.errors", "StorageError"),
    ("pmrr_model.checkpoint", "CheckpointError"),
    ("pmrr_model.assets", "AssetError"),
    ("pmrr_model.devices", "DeviceError"),
)


def _explained(error: BaseException) -> BaseException | None:
    """The first of ``error`` and the errors it was raised from (a flow run wraps what its
    stage raised) that is one of :data:`EXPLAINED_ERRORS`, or None."""
    kinds = tuple(
        getattr(sys.modules[module], name)
        for module, name in EXPLAINED_ERRORS
        if module in sys.modules
    )
    seen: BaseException | None = error
    while seen is not None and kinds:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Native MediaPipe/TFLite chatter (absl and glog) and per-request/GL lines drown the
        # one line per video a terminal user wants.
        os.environ.setdefault("GLOG_minloglevel", "2")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_TerminalFormatter("%(levelname)s %(name)s: %(message)s"))
            handler.addFilter(_not_prefect)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"pmrr {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        explained = _explained(error)
        if explained is None:
            raise
        print(f"pmrr {args.command}: {explained}", file=sys.stderr)
        return 2 if args.command == "process" else 1


if __name__ == "__main__":
    sys.exit(main())
