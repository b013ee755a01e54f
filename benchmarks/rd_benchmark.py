"""Rate-distortion benchmark of vaecodec against PNG and the classical codecs.

    python benchmarks/rd_benchmark.py --data ../shared/data --json docs/data/rd.json \\
        --plot docs/images/rd.png --picture docs/images/digits.png

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

from vaecodec import images
from vaecodec.data import mnist
from vaecodec.eval import benchmark


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
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST",
                        help="which IDX data set under --data (default: %(default)s)")
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
        if args.images:
            files = images.collect([args.images])
            shape = images.read_image(files[0][0]).shape  # the first image's size
            pixels, _, _ = images.read_images(files, shape)
            source = f"images in {args.images}"
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
