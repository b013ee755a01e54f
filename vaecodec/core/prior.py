"""A prior: one integer frequency table per latent dimension (the tables a quality level
stores in ``checkpoints/levels.json``), in plain Python, so that reading the levels needs
no numpy (``vaecodec info`` stays fast); ``core.entropy`` codes with it."""

from __future__ import annotations

import dataclasses

PRECISION = 16  # every table's frequencies sum to 2**PRECISION
ESCAPE = 0  # table index 0: the symbol is outside the table, sent raw after the dimension
MAX_TABLE = 4096  # entries per table (escape included)


@dataclasses.dataclass(frozen=True)
class Prior:
    """Frequency tables for each latent dimension: symbol ``lo[d] + i - 1`` has frequency
    ``freqs[d][i]`` (i >= 1); ``freqs[d][0]`` is the escape's."""

    lo: tuple[int, ...]
    freqs: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if len(self.lo) != len(self.freqs):
            raise ValueError("prior: one table per dimension")
        for table in self.freqs:
            if not 2 <= len(table) <= MAX_TABLE or min(table) < 1 or sum(table) != 2**PRECISION:
                raise ValueError("prior: each table needs 2..4096 positive frequencies "
                                 f"summing to 2**{PRECISION}")

    def to_json(self) -> list[dict]:
        return [{"lo": lo, "freq": list(freq)} for lo, freq in zip(self.lo, self.freqs)]

    @classmethod
    def from_json(cls, tables: list[dict]) -> "Prior":
        return cls(tuple(int(t["lo"]) for t in tables),
                   tuple(tuple(int(f) for f in t["freq"]) for t in tables))
