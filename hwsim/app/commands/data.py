"""``hwsim data make layout|chars|faces --n N --seed S --out DIR [--split calib|eval]``: labeled synthetic datasets.

Writes ``DIR/annotations.json`` (COCO) and the images; see :mod:`sw.data.synth`
for what each kind contains and how the calibration and evaluation splits differ.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from hwsim.app.commands import HELP
from sw.data.synth import KINDS, SPLITS, make_dataset
from sw.fileio import OutputPlan

__all__ = ["register", "run", "MAX_IMAGES"]

#: Most images one ``hwsim data make`` writes.
MAX_IMAGES = 100_000


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` sub-command."""
    parser = subparsers.add_parser("data", help=HELP["data"],
                                   description="Generate deterministic labeled datasets in COCO format.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = actions.add_parser("make", help="write a dataset",
                              description="Write N images and annotations.json (COCO) to DIR. The same arguments "
                                          "always give identical files.")
    make.add_argument("kind", choices=KINDS, help="layout: document pages (PicoDet layout, 10 classes); chars: "
                                                 "captcha glyphs (YOLOX ddddocr); faces: face composites (BlazeFace)")
    make.add_argument("--n", type=int, required=True, metavar="N", help=f"number of images (1..{MAX_IMAGES})")
    make.add_argument("--seed", type=int, required=True, metavar="S", help="non-negative integer seed")
    make.add_argument("--out", required=True, metavar="DIR", help="output directory (created)")
    make.add_argument("--split", choices=SPLITS, default="eval",
                      help="calib or eval: disjoint content (characters, styles, faces); default eval")
    make.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset; returns 0 (bad arguments raise ValueError)."""
    if not 1 <= args.n <= MAX_IMAGES:
        raise ValueError(f"--n: expected a number of images in [1, {MAX_IMAGES}], got {args.n}")
    out = OutputPlan().directory(args.out, "--out")
    if (out / "annotations.json").exists():
        raise ValueError(f"--out {out}: already holds a dataset (annotations.json); choose an empty directory")
    with tqdm(total=args.n, desc=f"{args.kind} {args.split}", unit="img", file=sys.stderr,
              disable=args.quiet or args.n < 1) as bar:
        made = make_dataset(args.kind, args.n, args.seed, args.out, args.split, progress=bar.update)
    print(f"{made.annotations}: {made.images} images, {made.boxes} boxes ({args.kind}, split {args.split}, "
          f"seed {args.seed}); {made.images_per_second:.1f} images/s")
    return 0
