"""The seed's ``run_demo.py`` flags, kept as a thin alias of ``pmrr_interviews.demo``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--img_file", help="image to run on")
    parser.add_argument("--vid_file", help="video to run on")
    parser.add_argument("--checkpoint", help="PMRR checkpoint (omit for the landmark fit)")
    parser.add_argument("--output_folder", default="output")
    parser.add_argument("--data_dir", help="folder with the SMPL files (seed layout)")
    parser.add_argument("--estimator", choices=("landmark-fit", "pmrr"))
    args = parser.parse_args(argv)
    from pmrr_interviews import demo

    if args.img_file:
        demo.run_image_demo(
            args.img_file, args.output_folder, checkpoint=args.checkpoint,
            estimator=args.estimator, data_dir=args.data_dir,
        )  # fmt: skip
        return 0
    if args.vid_file:
        from flows.run import video_demo

        options = {"data_dir": args.data_dir}
        if args.checkpoint:
            options.update(checkpoint=args.checkpoint, estimator=args.estimator or "pmrr")
        row = video_demo(args.vid_file, args.output_folder, **options)
        print(f"render: {row['render']}")
        return 0
    parser.error("give --img_file or --vid_file")
    return 2


if __name__ == "__main__":
    sys.exit(main())
