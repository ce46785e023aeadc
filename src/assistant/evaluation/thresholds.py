"""Threshold gates read from ``evals/thresholds.toml``.

Each table names which configurations it applies to, and holds
``"metric" = { min = x }`` and/or ``{ max = y }``::

    ["*"]                                      # every configuration
    "triage.under_triage" = { max = 0.0 }

    [hybrid]                                   # configurations whose mode or name is hybrid
    "retrieval.recall@5" = { min = 0.95 }

A bound may carry ``known_gap = "why"``: the target is real and not met yet.
It is still checked, and a miss is printed and reported as a miss, but it does
not fail the run, so CI keeps gating on everything else. Remove the note once
the target is met; a known gap that is met is reported so the note can go.

A table name is matched against the configuration name (``hybrid+extractive``)
and its mode (``hybrid``); glob patterns work. When several tables set the same
metric the most specific wins: exact name, then exact mode, then a pattern, then ``"*"``.
"""

from __future__ import annotations

import difflib
import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import DataFileError
from assistant.evaluation.metrics import known_metrics

EPSILON = 1e-9  # so that 1.0 == 1.0 after float sums


@dataclass(frozen=True)
class Bound:
    metric: str
    section: str
    min: float | None = None
    max: float | None = None
    known_gap: str | None = None

    def describe(self) -> str:
        parts = ([f">= {self.min:g}"] if self.min is not None else []) + ([f"<= {self.max:g}"] if self.max is not None else [])
        return " and ".join(parts)


@dataclass(frozen=True)
class Check:
    """One bound applied to one configuration's measured value."""

    metric: str
    config: str
    value: float | None
    bound: Bound

    @property
    def status(self) -> str:
        if self.value is None:
            return "not measured"
        if self.bound.min is not None and self.value < self.bound.min - EPSILON:
            return "below"
        if self.bound.max is not None and self.value > self.bound.max + EPSILON:
            return "above"
        return "ok"

    @property
    def failed(self) -> bool:
        return self.status in ("below", "above")

    @property
    def blocking(self) -> bool:
        """A miss that fails the run (one marked as a known gap does not)."""
        return self.failed and self.bound.known_gap is None

    def describe(self) -> str:
        value = "not measured" if self.value is None else f"{self.value:.4f}"
        limit = self.bound.min if self.status == "below" else self.bound.max if self.status == "above" else None
        verdict = f"{self.status} threshold {limit:g}" if limit is not None else f"target {self.bound.describe()}"
        gap = f"; known gap: {self.bound.known_gap}" if self.bound.known_gap else ""
        return f"{self.metric} [{self.config}] = {value}: {verdict} (thresholds [{self.bound.section}]{gap})"

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "config": self.config, "value": self.value, "min": self.bound.min,
                "max": self.bound.max, "section": self.bound.section, "status": self.status,
                "known_gap": self.bound.known_gap}


@dataclass(frozen=True)
class Thresholds:
    path: Path | None
    sections: tuple[tuple[str, tuple[Bound, ...]], ...] = ()

    @classmethod
    def from_file(cls, path: Path) -> Thresholds:
        """Load and validate; a missing file means no gates, a malformed one raises DataFileError."""
        if not path.exists():
            return cls(None)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise DataFileError(f"Thresholds file {path} is not valid TOML ({exc}). Fix it or pass --thresholds FILE.") from exc
        return cls(path, tuple((name, _bounds(path, name, table)) for name, table in data.items()))

    def for_config(self, name: str, mode: str) -> dict[str, Bound]:
        """The bounds that apply to one configuration, most specific table last so it wins."""
        def rank(section: str) -> int:
            if section == name:
                return 3
            if section == mode:
                return 2
            if section != "*" and (fnmatch.fnmatch(name, section) or fnmatch.fnmatch(mode, section)):
                return 1
            return 0 if section == "*" else -1

        merged: dict[str, Bound] = {}
        for section, bounds in sorted(self.sections, key=lambda item: rank(item[0])):
            if rank(section) >= 0:
                merged.update({b.metric: b for b in bounds})
        return merged

    def check(self, measured: Iterable[tuple[str, str, Mapping[str, float | None]]]) -> list[Check]:
        """``measured`` holds ``(config name, mode, metrics)`` for each configuration."""
        return [
            Check(metric, name, metrics.get(metric), bound)
            for name, mode, metrics in measured
            for metric, bound in sorted(self.for_config(name, mode).items())
        ]


def _bounds(path: Path, section: str, table: Any) -> tuple[Bound, ...]:
    if not isinstance(table, dict):
        raise DataFileError(f'{path}: "{section}" must be a table like [{section}] with "metric" = {{ min = 0.9 }} lines.')
    known = known_metrics()
    bounds: list[Bound] = []
    for metric, spec in table.items():
        if metric not in known:
            near = difflib.get_close_matches(metric, known, n=1)
            hint = f" Did you mean {near[0]!r}?" if near else " See evals/README.md for the metric names."
            raise DataFileError(f"{path} [{section}]: unknown metric {metric!r}.{hint}")
        limits = {k: v for k, v in spec.items() if k != "known_gap"} if isinstance(spec, dict) else None
        if not limits or set(limits) - {"min", "max"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in limits.values()
        ) or not isinstance(spec.get("known_gap", ""), str):
            raise DataFileError(
                f'{path} [{section}] {metric}: write a bound as {{ min = 0.9 }}, {{ max = 0.1 }} or both '
                f'(optionally with known_gap = "why"), not {spec!r}.'
            )
        bounds.append(Bound(metric, section, _float(spec.get("min")), _float(spec.get("max")), spec.get("known_gap")))
    return tuple(bounds)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
