"""``EncodeOptions``: how images are coded, in one frozen object that every entry point
takes (``encode``, ``open(path, "w")``, ``compress``, ``dask.compress``) and the command
line builds once.

    options = vaecodec.EncodeOptions(quality=13, lossless=False, polarity="as-is")
    data = vaecodec.encode(images, options)
    vaecodec.compress(["digits/"], "digits.vaez", options)

The entry points also take the same names as keywords (``encode(images, quality=13)``),
which override the fields of an options object given with them. The values are checked
where they are resolved (``pipeline.settings.resolve``), each with its own error.
"""

from __future__ import annotations

import dataclasses

from .errors import ArgumentTypeError


@dataclasses.dataclass(frozen=True)
class EncodeOptions:
    """How images are coded (see ``vaecodec.encode`` for each option)."""

    quality: int | None = None  # a quality level (default: the family's default level)
    quant_step: float | None = None  # instead of a level: an explicit step (zstd)
    model: str | None = None  # a family (or, with quant_step, a model) by name
    coder: str | None = None  # "range" (levels' learned prior) or "zstd"
    lossless: bool = False  # a residual layer that makes every pixel exact
    max_error: int | None = None  # a residual layer that keeps every pixel within +-K
    search: bool = False  # choose the latent symbols by a rate-distortion search
    embed_model: bool = False  # carry the model family in the file
    strict: bool = False  # QualityError instead of QualityWarning for poor images
    polarity: str = "auto"  # "auto": invert images drawn the other way round; "as-is"

    def replace(self, **changes) -> "EncodeOptions":
        """These options with some fields changed (unknown names: ``ArgumentTypeError``)."""
        return with_keywords(self, changes, "EncodeOptions.replace")

    def choosing_the_coding(self) -> list[str]:
        """The options given that choose how images are coded (model, level, step, coder,
        residual layer, embedding): what an append to an archive must leave out."""
        return [field for field in ("quality", "quant_step", "model", "coder", "lossless",
                                    "max_error", "embed_model")
                if getattr(self, field) not in (None, False)]


FIELDS = frozenset(field.name for field in dataclasses.fields(EncodeOptions))


def with_keywords(options: EncodeOptions | None, keywords: dict, caller: str
                  ) -> EncodeOptions:
    """``options`` (default: the defaults) with ``keywords`` applied: the keyword form of
    every entry point. A name that is not an option is an ``ArgumentTypeError`` (a
    ``TypeError``), as Python says it for an unknown keyword."""
    if options is None:
        options = EncodeOptions()
    elif not isinstance(options, EncodeOptions):
        raise ArgumentTypeError(f"options must be a vaecodec.EncodeOptions, not "
                                f"{type(options).__name__}")
    unknown = sorted(set(keywords) - FIELDS)
    if unknown:
        raise ArgumentTypeError(f"{caller}() got an unexpected keyword argument "
                                f"{unknown[0]!r}")
    return dataclasses.replace(options, **keywords) if keywords else options
