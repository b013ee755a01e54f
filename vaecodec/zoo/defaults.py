"""The defaults a user sees (``vaecodec compress`` without options), in a module that
imports nothing, so that ``--help`` stays fast."""

DEFAULT_LEVEL = 4  # the quality level of compress / encode without options
DEFAULT_MODEL = "vae-default"  # the model of an explicit --step without --model
DEFAULT_PIXEL_MODEL = "pixel-l10"  # the residual layer's model (pixel-l1 until 2.0.0, then v2, v3)
DEFAULT_FAMILY = "mnist"  # the shipped model family (its levels are the quality levels)
