"""``--against``: what got better and what got worse versus an earlier report.

Metrics are compared per configuration present in both reports, each in its own
direction (higher recall is better, lower under-triage is better; answer length
is neither). Latency moves with the machine's load, so it only counts as
changed past ``LATENCY_TOLERANCE`` (relative). Cases are compared by suite and id:
a case that passed before and fails now is listed, and the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assistant.evaluation.metrics import direction

LATENCY_TOLERANCE = 0.25
EPSILON = 1e-6  # reports round to 6 places


@dataclass(frozen=True)
class Change:
    config: str
    metric: str
    before: float
    after: float

    def describe(self) -> str:
        return f"{self.metric} [{self.config}]: {self.before:.4g} -> {self.after:.4g} ({self.after - self.before:+.4g})"


@dataclass(frozen=True)
class Comparison:
    better: tuple[Change, ...] = ()
    worse: tuple[Change, ...] = ()
    newly_failing: tuple[str, ...] = ()
    newly_passing: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    latency: tuple[Change, ...] = ()  # apart: it measures the machine as much as the system

    def lines(self, limit: int = 25) -> list[str]:
        """For the terminal: every metric change, at most ``limit`` cases per list."""
        out = list(self.notes)
        out += ["Better:"] + [f"  + {c.describe()}" for c in self.better] if self.better else ["Better: nothing"]
        out += ["Worse:"] + [f"  - {c.describe()}" for c in self.worse] if self.worse else ["Worse: nothing"]
        if self.latency:
            out += ["Latency (depends on the machine's load too):", *(f"  ~ {c.describe()}" for c in self.latency)]
        for title, mark, cases in (("Newly failing", "-", self.newly_failing), ("Newly passing", "+", self.newly_passing)):
            if cases:
                out += [f"{title} cases ({len(cases)}):", *(f"  {mark} {c}" for c in cases[:limit])]
                out += [f"  ... and {len(cases) - limit} more (all in report.md)"] if len(cases) > limit else []
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "better": [c.describe() for c in self.better], "worse": [c.describe() for c in self.worse],
            "newly_failing": list(self.newly_failing), "newly_passing": list(self.newly_passing),
            "notes": list(self.notes), "latency": [c.describe() for c in self.latency],
        }


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> Comparison:
    """Differences from ``old`` to ``new`` (both report.json contents)."""
    notes: list[str] = []
    if old.get("split") != new.get("split"):
        notes.append(f"note: the earlier report used split {old.get('split')!r}, this one {new.get('split')!r}.")
    old_suites = {s["name"]: s.get("sha256") for s in old.get("suites", [])}
    for suite in new.get("suites", []):
        if suite["name"] in old_suites and old_suites[suite["name"]] != suite.get("sha256"):
            notes.append(f"note: suite {suite['name']!r} changed since the earlier report.")
    old_version, new_version = (r.get("corpus", {}).get("version") for r in (old, new))
    if old_version != new_version:
        notes.append(f"note: the corpus changed ({old_version} -> {new_version}).")
    old_settings, new_settings = old.get("settings", {}), new.get("settings", {})
    changed = [f"{k} {old_settings.get(k)!r} -> {new_settings.get(k)!r}" for k in sorted({*old_settings, *new_settings})
               if old_settings.get(k) != new_settings.get(k)]
    if changed:
        notes.append(f"note: settings changed: {'; '.join(changed)}.")
    better: list[Change] = []
    worse: list[Change] = []
    latency: list[Change] = []
    failing: list[str] = []
    passing: list[str] = []
    old_configs, new_configs = old.get("configurations", {}), new.get("configurations", {})
    for name in new_configs:
        if name not in old_configs:
            notes.append(f"note: configuration {name!r} is not in the earlier report.")
            continue
        before, after = old_configs[name].get("metrics", {}), new_configs[name].get("metrics", {})
        for metric, value in after.items():
            prior = before.get(metric)
            sign = direction(metric)
            if value is None or prior is None or sign == 0 or not _changed(metric, prior, value):
                continue
            change = Change(name, metric, prior, value)
            if metric.startswith("latency."):
                latency.append(change)
            else:
                (better if (value - prior) * sign > 0 else worse).append(change)
        was = {(c["suite"], c["id"]): c["passed"] for c in old_configs[name].get("cases", [])}
        for case in new_configs[name].get("cases", []):
            prior_pass = was.get((case["suite"], case["id"]))
            label = f"{case['suite']}/{case['id']} [{name}]"
            if prior_pass is True and not case["passed"]:
                failing.append(label)
            elif prior_pass is False and case["passed"]:
                passing.append(label)
    notes += [f"note: configuration {n!r} is only in the earlier report." for n in old_configs if n not in new_configs]
    return Comparison(tuple(better), tuple(worse), tuple(failing), tuple(passing), tuple(notes), tuple(latency))


def _changed(metric: str, before: float, after: float) -> bool:
    if metric.startswith("latency."):
        return abs(after - before) > LATENCY_TOLERANCE * max(abs(before), EPSILON)
    return abs(after - before) > EPSILON
