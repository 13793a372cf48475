"""What a model was trained on when its source is too large to read whole: a stratified sample an engine drew.

The audit counts every row; the surrogate of the Drivers page and the retrained models of the mitigation
comparison need rows in memory, so an engine draws them: every protected group keeps its rows up to
``per_group`` (small groups whole, large ones sampled), so no group is left out of the models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ENGINE_NAMES", "StratifiedSample"]

ENGINE_NAMES = {"pandas": "pandas", "duckdb": "DuckDB", "spark": "Apache Spark"}


@dataclass(frozen=True)
class StratifiedSample:
    """Rows drawn by an engine from a larger source, every group keeping its rows up to ``per_group``.

    Attributes
    ----------
    rows
        Rows drawn.
    source_rows
        Rows in the source.
    per_group
        Each group of each protected attribute keeps min(its rows, ``per_group``) rows.
    engine
        The engine that drew them (``"duckdb"``, ``"spark"``).
    seed
        Seed of the draw (the same seed draws the same rows).
    """

    rows: int
    source_rows: int
    per_group: int
    engine: str
    seed: int = 0

    def describe(self, what: str = "Trained") -> str:
        """A plain sentence for the pages and the report: ``what`` on a stratified sample of N rows…"""
        return (
            f"{what} on a stratified sample of {self.rows:,} of the {self.source_rows:,} rows, drawn by "
            f"{ENGINE_NAMES.get(self.engine, self.engine)} (seed {self.seed}): every group keeps its rows up to "
            f"{self.per_group:,}."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {
            "rows": self.rows,
            "source_rows": self.source_rows,
            "per_group": self.per_group,
            "engine": self.engine,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StratifiedSample:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            int(data["rows"]), int(data["source_rows"]), int(data["per_group"]), str(data["engine"]), int(data["seed"])
        )
