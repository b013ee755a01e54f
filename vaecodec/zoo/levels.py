"""Quality levels: each a frozen (model, quantization step, prior) triple.

``checkpoints/levels.json`` (written by ``tools/fit_levels.py`` through
``vaecodec.train.levels``) holds, per level, the model's name and id, the step, the
integer prior tables the range coder uses, and the figures measured on the MNIST test
split. A file names its level by number, so a level, once released, never changes: new
tables or models get new numbers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CorruptModelError

if TYPE_CHECKING:
    from ..core.prior import Prior

from .defaults import DEFAULT_LEVEL  # noqa: F401  (part of this module's API)

LEVELS_FILE = "levels.json"


@dataclasses.dataclass(frozen=True)
class Level:
    level: int
    model: str  # model name
    model_id: bytes  # sha256 of its weights
    quant_step: float
    prior: "Prior" = dataclasses.field(repr=False)
    measured: dict = dataclasses.field(default_factory=dict)  # test-split figures

    def to_row(self) -> dict:
        """The level as a row of levels.json."""
        row = {"level": self.level, "model": self.model, "model_sha256": self.model_id.hex(),
               "quant_step": self.quant_step, "prior": self.prior.to_json()}
        if self.measured:
            row["measured"] = self.measured
        return row


def from_row(row: dict) -> Level:
    """A level from a row of levels.json; CorruptModelError when the row is not one."""
    from ..core.prior import Prior  # plain Python: reading the levels imports no numpy

    try:
        return Level(
            level=int(row["level"]),
            model=str(row["model"]),
            model_id=bytes.fromhex(row["model_sha256"]),
            quant_step=float(row["quant_step"]),
            prior=Prior.from_json(row["prior"]),
            measured=dict(row.get("measured", {})),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptModelError(f"a quality level's record is damaged ({e}); reinstall") from None


def read_rows(path: Path) -> list[dict]:
    """The rows of a levels file, as stored."""
    import json

    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["levels"])
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptModelError(f"{path} is not a levels file ({e})") from None


def read_levels(path: Path) -> list[Level]:
    return [from_row(row) for row in read_rows(path)]
