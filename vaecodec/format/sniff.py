"""What a file's first bytes say, without parsing more: whether it is a version 5 or 6
(chunked) file, and such a header in the shape of the older versions' ``Header``."""

from __future__ import annotations

import dataclasses

from ..errors import UnsafeNameError
from . import chunked, container


def info_header(header: chunked.FileHeader, count: int, names=None,
                model_size: int = 0, payload_size: int = 0,
                classes: tuple[str, ...] | None = None) -> container.Header:
    """A version 5 file's header in the shape of the older versions' (what ``info`` shows
    and ``settings_for`` resolves)."""
    return container.Header(
        model_id=header.model_id, latent_size=header.latent_size,
        image_shape=header.image_shape,
        count=count, quant_step=header.quant_step, level=header.level, coder=header.coder,
        symbol_dtype=header.symbol_dtype, payload_size=payload_size, names=names,
        version=header.version, residual=header.residual, embedded_model_size=model_size,
        fields=header.fields, classes=classes)


def is_chunked(data: bytes) -> bool:
    """Whether the bytes start a version 5, 6 or 7 file (chunked)."""
    return data[:4] == container.MAGIC and data[4:5] in (bytes([v]) for v in chunked.VERSIONS)



def summarize(header: chunked.FileHeader, index: chunked.Index, read_chunk,
              names: bool = True) -> container.Header:
    """A version 5 or 6 file's header with what its chunks hold (``read_chunk(n,
    names)``: each read and checked, none decoded): names, payload and residual sizes,
    which images were coded inverted. ``names=False``: the names are not unpacked (the
    header's ``names`` is None, ``names_stored_size`` counts them), so that memory does
    not grow with the number of images. Plain Python, as the rest of the format."""
    listed: list[str] = []
    payload, residual, names_size = 0, [], 0
    flags = 0  # bit i: image i was coded inverted
    for n, entry in enumerate(index.chunks):
        chunk = read_chunk(n, names)
        if chunk.names is not None:
            listed.extend(chunk.names)
        names_size += chunk.names_size
        payload += len(chunk.payload)
        if chunk.residual is not None:
            residual.append(len(chunk.residual))
        if chunk.inverted is not None:
            bits = int.from_bytes(chunk.inverted, "little") & ((1 << chunk.count) - 1)
            flags |= bits << entry.first
    if names and header.named and len(set(listed)) != len(listed):
        raise UnsafeNameError("stored names are not unique")
    bitmap = flags.to_bytes(-(-index.count // 8), "little") if flags else None
    layer = header.residual
    return dataclasses.replace(
        info_header(header, index.count, tuple(listed) if header.named and names else None,
                    header.model_size, payload, index.classes),
        residual=None if layer is None else dataclasses.replace(
            layer, chunk_sizes=tuple(residual)),
        names_stored_size=names_size, inverted=bitmap)
