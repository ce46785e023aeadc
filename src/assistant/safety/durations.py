"""Durations in a message ("3 days", "day 4", "48 hrs", "since Monday") read as hours."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Durations"]


@dataclass(frozen=True)
class Durations:
    """Reads "3 days", "day 4", "48 hrs", "since Monday" as hours."""

    numbers: Mapping[str, float]
    units: Mapping[str, float]
    amount: re.Pattern[str]
    day_n: re.Pattern[str]
    nth_day: re.Pattern[str]
    named: tuple[tuple[re.Pattern[str], float], ...]

    @classmethod
    def build(cls, numbers: dict[str, float], ordinals: dict[str, float], units: dict[str, float],
              day_words: list[str], named: list[tuple[re.Pattern[str], float]]) -> Durations:
        def alt(words: Any) -> str:  # longest first, so "couple of" wins over "couple"
            return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        num = rf"\d+(?:[.,]\d+)?|{alt(numbers)}"
        return cls(
            numbers={**numbers, **ordinals},
            units=units,
            # subtle: digits may touch the unit ("48h"); words may not ("ah" is not "a h").
            amount=re.compile(rf"\b(?:(\d+(?:[.,]\d+)?)\s*-?\s*|({alt(numbers)})[\s-]+)({alt(units)})\b"),
            day_n=re.compile(rf"\b(?:{alt(day_words)})\s*({num})\b"),
            nth_day=re.compile(rf"\b(\d+(?=st|nd|rd|th)|{alt(ordinals)})(?:st|nd|rd|th)?\s+day\b"),
            named=tuple(named),
        )

    def value(self, token: str) -> float:
        try:
            return float(token.replace(",", "."))
        except ValueError:
            return self.numbers.get(token, 0.0)

    def hours(self, text: str) -> float | None:
        found = [self.value(m.group(1) or m.group(2)) * self.units[m.group(3)]
                 for m in self.amount.finditer(text)]
        found += [self.value(m.group(1)) * 24 for m in self.day_n.finditer(text)]
        found += [self.value(m.group(1)) * 24 for m in self.nth_day.finditer(text)]
        found += [hours for pattern, hours in self.named if pattern.search(text)]
        return max(found) if found else None

