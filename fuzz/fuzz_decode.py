"""atheris fuzz target: any bytes given to read_info and decode give a header, images or
one of vaecodec's own errors; never another exception, a crash or a hang.

    python fuzz/fuzz_decode.py CORPUS_DIR -max_total_time=3600 -rss_limit_mb=2048

CORPUS_DIR starts as a copy of tests/data/golden/*.vaez and tests/data/v1_digits.vaez
(libFuzzer adds the inputs it finds to it). Half of the inputs get their CRC-32 recomputed,
so that mutations reach the header fields, names and payloads behind the checksum.
tests/test_fuzz.py runs a bounded campaign in the long test set.

decode runs with max_images=MAX_IMAGES, as a user sets --max-images: a file declaring more
is refused (ImageLimitError) before anything is decoded, and decoding what it allows costs
memory in proportion to it, which keeps libFuzzer within its memory limit.
"""

from __future__ import annotations

import struct
import sys
import zlib

import atheris

with atheris.instrument_imports(include=["vaecodec"]):
    import numpy as np

    import vaecodec

    # vaecodec loads these on first use: import them here, so that they are instrumented
    import vaecodec.codec
    import vaecodec.core.coders
    import vaecodec.core.entropy
    import vaecodec.core.residual
    import vaecodec.files
    import vaecodec.format.chunked
    import vaecodec.format.container
    import vaecodec.pipeline.chunk
    import vaecodec.pipeline.settings
    import vaecodec.stream.decoder
    import vaecodec.stream.encoder
    import vaecodec.stream.whole
    import vaecodec.zoo.store  # noqa: F401

MAX_IMAGES = 4096


def fix_checksum(data: bytes) -> bytes:
    body = data[:-4] if len(data) > 4 else data
    return body + struct.pack("<I", zlib.crc32(body))


def test_one_input(raw: bytes) -> None:
    if not raw:
        return
    data = fix_checksum(raw[1:]) if raw[0] & 1 else raw[1:]
    try:
        header = vaecodec.read_info(data)
    except vaecodec.VaezError:
        return
    try:
        images = vaecodec.decode(data, max_images=MAX_IMAGES)
    except vaecodec.ImageLimitError:
        if header.count <= MAX_IMAGES:
            raise
        return
    except vaecodec.VaezError:
        return
    if images.dtype != np.uint8 or len(images) != header.count:
        raise AssertionError(f"decode gave {images.dtype} {images.shape} for {header.count}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
