"""Model family files (.vaem): bytes <-> (header, blobs), with every check before use.

A family is everything needed to code images with a model of one's own: its VAE weights,
its quality levels (step and prior each) and its pixel model, with metadata. The layout
(docs/model-format.md):

    "VAEM" | version (1 byte, 1) | header length H (u32 LE) | header (msgpack map, H bytes)
    | blob 0 | blob 1 | ... | CRC-32 of everything before it (u32 LE)

The header lists each blob's size and sha256; the blobs are the models' safetensors
files. A model file is hostile input like a .vaez file: the header length is capped
before anything is allocated, every size is checked against the bytes really there,
every key and type is checked, and each blob must match its sha256.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib

import msgpack

from ..errors import CorruptModelError

MAGIC = b"VAEM"
VERSION = 1
MAX_HEADER = 4 * 2**20  # bytes of msgpack header
MAX_MODELS = 8
MAX_MODEL_BYTES = 512 * 2**20
MAX_LEVELS = 255
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
KINDS = ("vae", "pixel-model")
_PREFIX = struct.Struct("<4sBI")

HEADER_KEYS = {"name", "models", "levels", "default_level", "metadata"}
MODEL_KEYS = {"kind", "name", "size", "sha256", "metadata"}
LEVEL_KEYS = {"level", "model", "quant_step", "prior", "measured"}


def _fail(message: str):
    raise CorruptModelError(f"not a valid vaecodec model file: {message}")


def check_name(name) -> str:
    """A family or model name: 1-64 letters, digits, '.', '_' or '-', not starting with a
    punctuation mark (so that it is a safe file name everywhere)."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        _fail(f"name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with "
              "a letter or digit")
    return name


def _exact_keys(value, keys: set[str], what: str) -> dict:
    if not isinstance(value, dict) or set(value) != keys:
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        _fail(f"{what} must have exactly the keys {sorted(keys)}, got {got}")
    return value


def _int(value, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        _fail(f"{what} must be an integer {lo}..{hi}, got {value!r}")
    return value


def _entries(value, most: int, what: str) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= most:
        _fail(f"{what} must be a list of 1..{most}")
    return value


def check_header(header) -> dict:
    """The header's structure (the levels' priors and the models' tensors are checked where
    they are loaded)."""
    header = _exact_keys(header, HEADER_KEYS, "the header")
    check_name(header["name"])
    models = _entries(header["models"], MAX_MODELS, "models")
    names = set()
    for model in models:
        _exact_keys(model, MODEL_KEYS, "a model entry")
        if model["kind"] not in KINDS:
            _fail(f"a model's kind must be one of {KINDS}, got {model['kind']!r}")
        if check_name(model["name"]) in names:
            _fail(f"two models are named {model['name']!r}")
        names.add(model["name"])
        _int(model["size"], 1, MAX_MODEL_BYTES, "a model's size")
        if not isinstance(model["sha256"], bytes) or len(model["sha256"]) != 32:
            _fail("a model's sha256 must be 32 bytes")
        if not isinstance(model["metadata"], dict):
            _fail("a model's metadata must be a map")
    if sum(m["kind"] == "vae" for m in models) != 1:
        _fail("a family has exactly one VAE")
    vae = next(m["name"] for m in models if m["kind"] == "vae")
    levels = _entries(header["levels"], MAX_LEVELS, "levels")
    numbers = set()
    for level in levels:
        _exact_keys(level, LEVEL_KEYS, "a level entry")
        number = _int(level["level"], 1, MAX_LEVELS, "a level's number")
        if number in numbers:
            _fail(f"level {number} is defined twice")
        numbers.add(number)
        if level["model"] != vae:
            _fail(f"level {number} names model {level['model']!r}, not the family's VAE")
        step = level["quant_step"]
        if not isinstance(step, float) or not 1e-3 <= step <= 100.0:
            _fail(f"level {number}'s step must be a float 0.001..100, got {step!r}")
        if not isinstance(level["prior"], list) or not isinstance(level["measured"], dict):
            _fail(f"level {number}'s prior must be a list and its figures a map")
    default = header["default_level"]
    if isinstance(default, bool) or not isinstance(default, int) or default not in numbers:
        _fail(f"the default level {header['default_level']!r} is not one of the levels")
    if not isinstance(header["metadata"], dict):
        _fail("the metadata must be a map")
    return header


def pack(header: dict, blobs: list[bytes]) -> bytes:
    """A family file of ``header`` (its models' sizes and sha256s filled in from ``blobs``,
    one per model, in order)."""
    header = dict(header)
    header["models"] = [{**m, "size": len(b), "sha256": hashlib.sha256(b).digest()}
                        for m, b in zip(header["models"], blobs, strict=True)]
    check_header(header)
    raw = msgpack.packb(header, use_bin_type=True)
    body = _PREFIX.pack(MAGIC, VERSION, len(raw)) + raw + b"".join(blobs)
    data = body + struct.pack("<I", zlib.crc32(body))
    unpack(data)  # what is written must read back (e.g. a metadata map with int keys won't)
    return data


def unpack(data: bytes) -> tuple[dict, list[bytes]]:
    """(header, blobs) of a family file's bytes, every check passed; CorruptModelError
    otherwise."""
    data = bytes(data)
    if len(data) < _PREFIX.size + 4:
        _fail("too short")
    magic, version, size = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        _fail("it does not start with VAEM")
    if version != VERSION:
        _fail(f"version {version} is not one this vaecodec reads (1); upgrade vaecodec")
    if size > MAX_HEADER or _PREFIX.size + size + 4 > len(data):
        _fail(f"header length {size} exceeds the file or the {MAX_HEADER}-byte cap")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        _fail("checksum mismatch (the file is damaged or truncated)")
    try:
        header = msgpack.unpackb(data[_PREFIX.size : _PREFIX.size + size], raw=False,
                                 strict_map_key=True, use_list=True)
    except Exception as e:  # msgpack's own error types for malformed data
        _fail(f"the header does not parse ({type(e).__name__})")
    check_header(header)
    offset, blobs = _PREFIX.size + size, []
    for model in header["models"]:
        blob = data[offset : offset + model["size"]]
        if len(blob) != model["size"] or offset + model["size"] > len(data) - 4:
            _fail(f"model {model['name']} is cut short")
        if hashlib.sha256(blob).digest() != model["sha256"]:
            _fail(f"model {model['name']} does not match its sha256")
        blobs.append(blob)
        offset += model["size"]
    if offset != len(data) - 4:
        _fail(f"{len(data) - 4 - offset} bytes follow the last model")
    return header, blobs
