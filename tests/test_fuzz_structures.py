"""Structure-aware hostile inputs: the index of a version 5 file, a manifest and a model
family file, each decoded, mutated as a structure (fields set to hostile values, entries
dropped, repeated or swapped) and written back with every CRC-32 and sha256 recomputed,
so that the checks behind the checksums are what is exercised. Every reader either
works or raises the library's own error (``VaezError``), never anything else.

A quick pass runs with the default suite; CI's long run (`--hypothesis-profile=long`)
runs each for 3,000 examples.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vaecodec
from vaecodec import VaezError
from vaecodec.format import chunked

pytestmark = pytest.mark.fuzz

IMAGES = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)

INTS = st.one_of(st.integers(-3, 70_000), st.integers(-(2**63), 2**64 - 1),
                 st.sampled_from([0, 1, 2**24, 2**40, 2**40 + 1, 2**63 - 1, 2**63, 2**64 - 1]))
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=False), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6)
MSGPACK_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), INTS, st.binary(max_size=8), st.text(max_size=8)),
    lambda inner: st.lists(inner, max_size=4), max_leaves=8)


def _archive(**options) -> bytes:
    out = io.BytesIO()
    with vaecodec.open(out, "w", chunk_images=2, **options) as archive:
        archive.write(IMAGES, [f"{i}.png" for i in range(5)] if not options else None)
    return out.getvalue()


ARCHIVES = [_archive(), _archive(lossless=True)]


def _with_index(data: bytes, fields) -> bytes:
    """``data`` with its index replaced by ``fields`` (packed), its trailer recomputed."""
    offset, size, _, _ = chunked.TRAILER.unpack(data[-chunked.TRAILER.size:])
    raw = msgpack.packb(fields, use_bin_type=True)
    crc = zlib.crc32(raw + struct.pack("<QQ", offset, len(raw)))
    return data[:offset] + raw + chunked.TRAILER.pack(offset, len(raw), crc, chunked.INDEX_MAGIC)


def _read_everything(data: bytes) -> None:
    try:
        vaecodec.read_info(data)
    except VaezError:
        pass
    try:
        with vaecodec.open(data) as archive:
            if len(archive):
                archive[len(archive) - 1]
                archive[[0, len(archive) - 1]]
            archive.names
    except VaezError:
        pass
    try:
        with vaecodec.archive.ArchiveReader(data, salvage=True) as archive:
            archive.verify()
            archive.intact_chunks()
    except VaezError:
        pass


INDEX_EDITS = st.lists(st.one_of(
    st.tuples(st.just("count"), INTS),
    st.tuples(st.just("field"), st.integers(0, 10), st.integers(0, 2), INTS),
    st.tuples(st.just("drop"), st.integers(0, 10)),
    st.tuples(st.just("repeat"), st.integers(0, 10)),
    st.tuples(st.just("swap"), st.integers(0, 10), st.integers(0, 10)),
    st.tuples(st.just("dead"), INTS, INTS),
    st.tuples(st.just("replace"), st.integers(0, 2), MSGPACK_VALUES),
), min_size=1, max_size=4)


# an example of the lossless archive costs up to a second (every chunk decoded, three
# times): a fifth of the profile's examples (6 in the default suite, 600 in the long set)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None,
          max_examples=max(6, settings.default.max_examples // 5))
@given(st.integers(0, len(ARCHIVES) - 1), INDEX_EDITS)
def test_a_hostile_index_with_a_valid_checksum(which, edits):
    data = ARCHIVES[which]
    offset, size, _, _ = chunked.TRAILER.unpack(data[-chunked.TRAILER.size:])
    fields = msgpack.unpackb(data[offset : offset + size])
    count, rows, dead = fields[0], [list(r) for r in fields[1]], [list(d) for d in fields[2]]
    for edit in edits:
        kind = edit[0]
        table = isinstance(rows, list) and rows and all(
            isinstance(r, list) and len(r) == 3 for r in rows)
        if kind == "count":
            count = edit[1]
        elif kind == "field" and table:
            rows[edit[1] % len(rows)][edit[2]] = edit[3]
        elif kind == "drop" and table:
            rows.pop(edit[1] % len(rows))
        elif kind == "repeat" and table:
            rows.append(list(rows[edit[1] % len(rows)]))
        elif kind == "swap" and table:
            a, b = edit[1] % len(rows), edit[2] % len(rows)
            rows[a], rows[b] = rows[b], rows[a]
        elif kind == "dead" and isinstance(dead, list):
            dead.append([edit[1], edit[2]])
        elif kind == "replace":
            if edit[1] == 0:
                count = edit[2]
            elif edit[1] == 1:
                rows = edit[2]
            else:
                dead = edit[2]
    _read_everything(_with_index(data, [count, rows, dead]))


def _entry(doc: dict, key: str, k: int):
    """Entry ``k`` (modulo their number) of the list ``doc[key]``, or None when that is no
    non-empty list (an earlier edit may have replaced it by anything)."""
    entries = doc.get(key)
    return entries[k % len(entries)] if isinstance(entries, list) and entries else None


def _set_field(doc: dict, key: str, k: int, field: str, value) -> None:
    """``doc[key][k][field] = value`` where that entry is a map."""
    entry = _entry(doc, key, k)
    if isinstance(entry, dict):
        entry[field] = value


def _repeat(doc: dict, key: str, k: int) -> None:
    """Append a second copy of entry ``k`` of ``doc[key]``."""
    entry = _entry(doc, key, k)
    if entry is not None:
        doc[key].append(entry)


# --- manifests --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("manifest")
    (folder / "d.shards").mkdir()
    shards = []
    for k in range(2):
        path = folder / "d.shards" / f"{k:05d}.vaez"
        with vaecodec.open(path, "w") as out:
            out.write(IMAGES[k * 2 : k * 2 + 3], names=[f"{k}/{i}.png" for i in range(3)])
        shards.append({"path": f"d.shards/{path.name}", "images": 3,
                       "bytes": path.stat().st_size,
                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    model = vaecodec.open(folder / "d.shards" / "00000.vaez").info.model_id[:4].hex()
    doc = {"vaecodec_manifest": 1, "images": 6, "model": model, "shards": shards}
    return folder, doc


MANIFEST_EDITS = st.lists(st.one_of(
    st.tuples(st.just("top"), st.sampled_from(["vaecodec_manifest", "images", "model",
                                               "shards", "extra"]), JSON_VALUES),
    st.tuples(st.just("shard"), st.integers(0, 3),
              st.sampled_from(["path", "images", "bytes", "sha256", "extra"]),
              st.one_of(JSON_VALUES, st.sampled_from(
                  ["d.shards/00001.vaez", "d.json", "d.shards", "../x.vaez", "/etc/passwd",
                   "d.shards/\udcff.vaez", "linked/00000.vaez", "d.shards/missing.vaez"]))),
    st.tuples(st.just("drop"), st.sampled_from(["images", "model", "path", "bytes"])),
    st.tuples(st.just("repeat"), st.integers(0, 3)),
), min_size=1, max_size=4)


@settings(suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture], deadline=None)
@given(MANIFEST_EDITS)
def test_a_hostile_manifest(dataset, edits):
    folder, original = dataset
    doc = json.loads(json.dumps(original))
    for edit in edits:
        kind = edit[0]
        if kind == "top":
            doc[edit[1]] = edit[2]
        elif kind == "shard":
            _set_field(doc, "shards", edit[1], edit[2], edit[3])
        elif kind == "drop":
            doc.pop(edit[1], None)
            shards = doc.get("shards")
            for shard in shards if isinstance(shards, list) else []:
                if isinstance(shard, dict):
                    shard.pop(edit[1], None)
        elif kind == "repeat":
            _repeat(doc, "shards", edit[1])
    path = folder / "d.json"
    path.write_bytes(json.dumps(doc).encode("utf-8", "surrogatepass"))
    for action in (lambda: vaecodec.read_info(path),
                   lambda: _manifest_reads(path),
                   lambda: vaecodec.archive.ManifestReader(path, salvage=True).verify()):
        try:
            action()
        except VaezError:
            pass


def _manifest_reads(path) -> None:
    with vaecodec.open(path) as archive:
        if len(archive):
            archive[len(archive) - 1]
            archive[[0, len(archive) - 1]]
        archive.names


# --- model family files -----------------------------------------------------------------
@pytest.fixture(scope="module")
def family_file():
    zoo = vaecodec.Zoo.installed()
    names = [f.name for f in zoo.families()]
    if not names:
        pytest.skip("needs a shipped family besides mnist")
    from vaecodec.format import family as family_format

    header, blobs = family_format.unpack(zoo.family_file(names[0]))
    return header, blobs


def _pack_raw(header: dict, blobs: list[bytes]) -> bytes:
    """A family file of ``header`` as given (no check), its CRC-32 recomputed."""
    from vaecodec.format import family as family_format

    raw = msgpack.packb(header, use_bin_type=True)
    body = family_format._PREFIX.pack(family_format.MAGIC, family_format.VERSION,
                                      len(raw)) + raw + b"".join(blobs)
    return body + struct.pack("<I", zlib.crc32(body))


FAMILY_EDITS = st.lists(st.one_of(
    st.tuples(st.just("top"), st.sampled_from(["name", "default_level", "levels", "models",
                                               "metadata", "extra"]), MSGPACK_VALUES),
    st.tuples(st.just("level"), st.integers(0, 20),
              st.sampled_from(["level", "model", "quant_step", "prior", "measured"]),
              st.one_of(MSGPACK_VALUES, st.floats(), st.sampled_from([1e-4, 1e3, 0.5]))),
    st.tuples(st.just("model"), st.integers(0, 3),
              st.sampled_from(["name", "kind", "size", "sha256", "metadata"]), MSGPACK_VALUES),
    st.tuples(st.just("repeat_level"), st.integers(0, 20)),
    st.tuples(st.just("drop_model"), st.integers(0, 3)),
), min_size=1, max_size=3)


@settings(suppress_health_check=[HealthCheck.too_slow,
                                 HealthCheck.function_scoped_fixture], deadline=None)
@given(FAMILY_EDITS)
def test_a_hostile_model_family_file(family_file, edits):
    from vaecodec.errors import ModelError
    from vaecodec.zoo import families

    header, blobs = family_file
    header = msgpack.unpackb(msgpack.packb(header, use_bin_type=True), raw=False)
    blobs = list(blobs)
    for edit in edits:
        kind = edit[0]
        if kind == "top":
            header[edit[1]] = edit[2]
        elif kind == "level":
            _set_field(header, "levels", edit[1], edit[2], edit[3])
        elif kind == "model":
            _set_field(header, "models", edit[1], edit[2], edit[3])
        elif kind == "repeat_level":
            _repeat(header, "levels", edit[1])
        elif kind == "drop_model" and isinstance(header.get("models"), list) \
                and len(header["models"]) > 1 and len(blobs) > 1:
            k = edit[1] % min(len(blobs), len(header["models"]))  # a family may hold 3
            del header["models"][k]
            del blobs[k]
    try:
        data = _pack_raw(header, blobs)
    except (TypeError, ValueError, OverflowError):  # msgpack cannot hold the edit
        return
    try:
        family, models, levels = families.from_bytes(data)
        vaecodec.Zoo.installed().with_family(family, models, levels)
    except ModelError:
        pass
