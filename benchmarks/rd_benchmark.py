"""Rate-distortion benchmark of vaecodec against PNG and the classical codecs.

    python benchmarks/rd_benchmark.py --data ../shared/data --json docs/data/rd.json \\
        --plot docs/images/rd.png --picture docs/images/digits.png

A colour set of ``tools/make_train_sets.py --colour`` (its test split, built into
--sets-dir when missing) with a colour family of your own:

    python benchmarks/rd_benchmark.py --dataset icons --model icons

Prints a table (one row per codec setting) and, per classical lossy codec, how many times
the bytes of vaecodec it needs for the same PSNR. The plot is drawn from the JSON alone:
`--from-json FILE --plot OUT.png` redraws it without measuring anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vaecodec.data import mnist
from vaecodec.data.sources import load_images
from vaecodec.eval import benchmark

COLOUR_SETS = ("icons", "colour-tiles")


def colour_set(name: str, sets_dir: Path) -> np.ndarray:
    """The test split of a colour set, built offline when it is not there yet."""
    path = sets_dir / f"{name}-test.npy"
    if not path.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
        from make_train_sets import build_colour

        build_colour(sets_dir)
    return np.load(path)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="codecs: " + ", ".join(benchmark.ALL_GROUPS))
    parser.add_argument("--data", default="data", help="MNIST root in torchvision's layout "
                        "(downloaded there when missing and online; default: %(default)s)")
    parser.add_argument("--images", metavar="DIR",
                        help="benchmark the images of this folder (all of one size) instead "
                             "of MNIST")
    parser.add_argument("--split", choices=["test", "train"], default="test",
                        help="MNIST split (default: %(default)s)")
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST", *COLOUR_SETS],
                        default="MNIST",
                        help="which IDX data set under --data, or a colour set of "
                             "tools/make_train_sets.py --colour (its test split) "
                             "(default: %(default)s)")
    parser.add_argument("--sets-dir", default="build/colour-sets",
                        help="where the colour sets are (built there when missing)")
    parser.add_argument("--model", metavar="FAMILY",
                        help="vaecodec's model family (default: the shipped mnist)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N images")
    parser.add_argument("--codecs", nargs="+", metavar="NAME", default=list(benchmark.ALL_GROUPS),
                        help="which codecs to run (default: all that are available)")
    parser.add_argument("--json", dest="json_out", metavar="FILE", help="write results as JSON")
    parser.add_argument("--plot", metavar="FILE.png", help="write the rate-distortion plot")
    parser.add_argument("--picture", metavar="FILE.png",
                        help="write 16 digits: originals, vaecodec at two rates, JPEG and WebP "
                             "at their lowest rates")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: read results from FILE (with --plot, --markdown)")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table and the summary as Markdown")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    unknown = sorted(set(args.codecs) - set(benchmark.ALL_GROUPS))
    if unknown:
        parser.error(f"unknown codecs: {', '.join(unknown)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        if args.images:  # in the channels they use (grayscale, RGB...)
            pixels, _ = load_images([args.images])
            source = f"images in {args.images}"
        elif args.dataset in COLOUR_SETS:
            pixels = colour_set(args.dataset, Path(args.sets_dir))
            source = f"{args.dataset} test split (tools/make_train_sets.py --colour)"
        else:
            pixels = mnist.mnist_images(args.data, args.split, args.dataset)
            source = f"{args.dataset} {args.split} split"
        pixels = np.ascontiguousarray(pixels[: args.limit])
        print(benchmark.HEADER)
        results, kept = benchmark.run(pixels, args.codecs, source, family=args.model,
                                      published=not args.images and args.dataset == "MNIST")
        results["command"] = "python benchmarks/rd_benchmark.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        print()
        for line in benchmark.summary_lines(results):
            print(line)
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(results, indent=1) + "\n")
        if args.picture:
            benchmark.picture(pixels[:16], benchmark.picture_rows(results, kept), args.picture)
    if args.plot:
        benchmark.plot(results, args.plot)
    if args.markdown:
        print(benchmark.table_markdown(results))
        print()
        for line in benchmark.summary_lines(results):
            print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
