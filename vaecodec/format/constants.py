"""The format's numbers that the rest of vaecodec shows to users (the command line's
choices and ranges), in a module that imports nothing, so that ``--help`` stays fast."""

MODEL_ID_BYTES = 4  # v2 and v3 store the first 4 bytes of a model's sha256
MAX_RESIDUAL_ERROR = 32  # the largest error bound a file can declare (0..255 scale)
# v2 "coder" field: the wire ids of (coder, symbol type); the coders themselves are
# vaecodec.core.coders.CODERS
WIRE_CODERS = {0: ("range", "int32"), 1: ("zstd", "int8"), 2: ("zstd", "int16"),
               3: ("zstd", "int32")}
# Not a format limit (that is container.MAX_WHOLE_COUNT): how many images decode and decompress
# accept from one file unless told more (max_images=, --max-images)
DEFAULT_MAX_IMAGES = 1_000_000
