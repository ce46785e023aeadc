"""Counts for the hostile-input, fault and privacy suite (issue #17), printed at the end of a run.

Each test records what it tried; ``tests/conftest.py`` prints the totals in
pytest's summary and writes them to ``test-artifacts/robustness.json``.

    tally.hostile(escalated=True)          # one hostile input survived; it held a red flag, escalated
    tally.fault(notice_kept=True)          # one fault injected and survived, the notice kept
    tally.privacy("no run history")        # one privacy check passed

A test records only after its assertions passed, so the counts are of checks
that held; "tried" counts are recorded before them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
COUNTS: dict[str, Any] = {
    "hostile_tried": 0, "hostile_survived": 0, "hostile_red_flags": 0, "hostile_escalated": 0,
    "faults_injected": 0, "faults_survived": 0, "faults_with_red_flag": 0, "faults_notice_kept": 0,
    "privacy_checks_passed": 0, "privacy_checks": [],
}


def _add(**amounts: int) -> None:
    with _lock:
        for key, amount in amounts.items():
            COUNTS[key] += amount


def hostile_tried(n: int = 1) -> None:
    _add(hostile_tried=n)


def hostile(red_flag: bool = False, escalated: bool = False) -> None:
    """One hostile input that survived (no crash, an answer or an error object came back)."""
    _add(hostile_survived=1, hostile_red_flags=int(red_flag), hostile_escalated=int(red_flag and escalated))


def fault_injected(n: int = 1) -> None:
    _add(faults_injected=n)


def fault(red_flag: bool = False, notice_kept: bool = False) -> None:
    """One injected fault survived (a notice-bearing answer or a one-line error, never a traceback)."""
    _add(faults_survived=1, faults_with_red_flag=int(red_flag), faults_notice_kept=int(red_flag and notice_kept))


def privacy(name: str) -> None:
    with _lock:
        COUNTS["privacy_checks_passed"] += 1
        COUNTS["privacy_checks"].append(name)


def recorded() -> bool:
    return bool(COUNTS["hostile_tried"] or COUNTS["faults_injected"] or COUNTS["privacy_checks_passed"])


def summary_lines() -> list[str]:
    c = COUNTS
    return [
        f"hostile inputs: {c['hostile_tried']} tried, {c['hostile_survived']} survived, "
        f"{c['hostile_escalated']} of {c['hostile_red_flags']} with a red flag escalated",
        f"faults: {c['faults_injected']} injected, {c['faults_survived']} survived, "
        f"notice kept in {c['faults_notice_kept']} of {c['faults_with_red_flag']} with a red flag",
        f"privacy checks passed: {c['privacy_checks_passed']}",
    ]


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(COUNTS, indent=2) + "\n", encoding="utf-8")
