"""A manifest: the JSON file that ties archive shards into one dataset (docs/format.md).

    {"vaecodec_manifest": 1, "images": 250000, "model": "a21ee276",
     "shards": [{"path": "big.shards/00000.vaez", "images": 65536, "bytes": 655360,
                 "sha256": "..."}, ...]}

Shard paths are relative to the manifest's folder and checked like stored names (no
"..", nothing absolute), so reading a manifest never leaves its folder. Bytes only.
"""

from __future__ import annotations

import dataclasses
import json

from ..errors import CorruptHeaderError, HeaderTooLargeError
from .chunked import MAX_COUNT
from .container import check_name

KEY = "vaecodec_manifest"
VERSION = 1
MAX_SIZE = 64 * 2**20  # bytes of a manifest file
MAX_SHARDS = 2**20
MAX_SHARD_IMAGES = MAX_COUNT  # a shard is a .vaez file: at most this many images
MAX_SHARD_BYTES = 2**62


@dataclasses.dataclass(frozen=True)
class Shard:
    path: str  # relative to the manifest's folder, "/"-separated
    images: int
    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    shards: tuple[Shard, ...]
    model: str  # the hex model id of every shard

    @property
    def images(self) -> int:
        return sum(s.images for s in self.shards)

    def to_bytes(self) -> bytes:
        return (json.dumps({KEY: VERSION, "images": self.images, "model": self.model,
                            "shards": [dataclasses.asdict(s) for s in self.shards]},
                           indent=1) + "\n").encode("utf-8")


def looks_like(prefix: bytes) -> bool:
    """Whether a file's first bytes could be a manifest (JSON) rather than a .vaez file."""
    return prefix.lstrip()[:1] == b"{"


def parse(data: bytes) -> Manifest:
    if len(data) > MAX_SIZE:
        raise HeaderTooLargeError(f"a manifest of {len(data)} bytes is more than the "
                                  f"{MAX_SIZE} a manifest may be")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CorruptHeaderError("not a vaecodec manifest (not JSON)") from None
    if not isinstance(doc, dict) or doc.get(KEY) != VERSION:
        raise CorruptHeaderError(f"not a vaecodec manifest (no \"{KEY}\": {VERSION})")
    if set(doc) != {KEY, "images", "model", "shards"}:
        raise CorruptHeaderError("a manifest has exactly the keys "
                                 f"{KEY}, images, model and shards")
    shards = doc["shards"]
    if not isinstance(shards, list) or not shards or len(shards) > MAX_SHARDS:
        raise CorruptHeaderError(f"a manifest lists 1..{MAX_SHARDS} shards")
    if not (isinstance(doc["model"], str) and len(doc["model"]) == 8
            and all(c in "0123456789abcdef" for c in doc["model"])):
        raise CorruptHeaderError("a manifest's model is the 8 hex digits of a model id")
    out, seen = [], set()
    for entry in shards:
        if not (isinstance(entry, dict) and set(entry) == {"path", "images", "bytes", "sha256"}
                and isinstance(entry["path"], str) and isinstance(entry["sha256"], str)
                and _count(entry["images"], MAX_SHARD_IMAGES)
                and _count(entry["bytes"], MAX_SHARD_BYTES)):
            raise CorruptHeaderError("a manifest shard is {path, images, bytes, sha256}, "
                                     f"with 1..{MAX_SHARD_IMAGES} images")
        path = check_name(entry["path"])
        if path in seen:
            raise CorruptHeaderError(f"a manifest lists shard {path} twice")
        seen.add(path)
        out.append(Shard(path, entry["images"], entry["bytes"], entry["sha256"]))
    manifest = Manifest(tuple(out), doc["model"])
    if doc["images"] != manifest.images:
        raise CorruptHeaderError(f"a manifest says {doc['images']} images, its shards "
                                 f"{manifest.images}")
    return manifest


def _count(value, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= most
