"""The `vaecodec` command: parse options, call the library, print, map errors.

Library errors (``VaezError``) and OS errors become one line ``Error: ...`` on stderr and
exit status 1; click's own usage errors exit with 2; anything else is a bug and shows its
traceback. Defaults shown in the help come from the library. Each command is a few lines
over library calls: ``coding`` (compress, decompress), ``archives`` (ls, test, info),
``families`` (levels, train, models, sample); ``_base`` holds what they share.
"""

from __future__ import annotations

from . import archives, coding, families  # noqa: F401  (each registers its commands)
from ._base import main

__all__ = ["main"]
