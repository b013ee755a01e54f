"""What a file's first bytes say, without parsing more: whether it is a version 5 or 6
(chunked) file, and such a header in the shape of the older versions' ``Header``."""

from __future__ import annotations

from . import chunked, container


def info_header(header: chunked.FileHeader, count: int, names=None,
                model_size: int = 0, payload_size: int = 0,
                classes: tuple[str, ...] | None = None) -> container.Header:
    """A version 5 file's header in the shape of the older versions' (what ``info`` shows
    and ``settings_for`` resolves)."""
    return container.Header(
        model_id=header.model_id, latent_size=header.latent_size, image_shape=None,
        count=count, quant_step=header.quant_step, level=header.level, coder=header.coder,
        symbol_dtype=header.symbol_dtype, payload_size=payload_size, names=names,
        version=header.version, residual=header.residual, embedded_model_size=model_size,
        fields=header.fields, classes=classes)


def is_chunked(data: bytes) -> bool:
    """Whether the bytes start a version 5 or 6 file (chunked)."""
    return data[:4] == container.MAGIC and data[4:5] in (bytes([v]) for v in chunked.VERSIONS)

