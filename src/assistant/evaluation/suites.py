"""Eval suites: JSONL files under ``evals/``, one case per line, kinds inferred from fields.

A suite is any ``*.jsonl`` file in the evals folder; its name is the file stem.
What a case is scored on (its *kinds*) follows from its fields, first rule wins:

1. file named ``robustness*.jsonl`` or ``"robust": true``  -> ``robustness``
2. ``"message"`` and ``"level"``                            -> ``triage``
3. non-empty ``"history"``                                   -> ``conversation`` (scored on the last turn)
4. non-empty ``"gold"`` or ``"expect": "answer"``/``"partial"`` -> ``retrieval`` + ``answers``
5. ``"expect": "abstain"`` or ``"refuse"``                   -> ``abstention``

>>> kinds_of({"question": "q", "gold": ["A."], "expect": "answer"}, "questions")
('retrieval', 'answers')
>>> kinds_of({"message": "fever", "level": "urgent"}, "triage")
('triage',)
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError, DataFileError
from assistant.schema import LEVELS, Turn, turns_from_json

KINDS = ("retrieval", "answers", "abstention", "conversation", "triage", "robustness")
# "partial": a question in two parts, of which the sources answer one; the answer
# should give the covered part and say which part is not covered.
EXPECTS = ("answer", "partial", "abstain", "refuse")
IN_SCOPE = ("answer", "partial")
SPLITS = ("tune", "test", "all")
TAG_KEYS = ("kind", "lang")
# A generated message may not grow past this; the pipeline reads 20,000 characters.
MAX_GENERATED_CHARS = 200_000


@dataclass(frozen=True)
class Case:
    """One line of a suite. ``question`` is the last user message (``message`` in triage files)."""

    id: str
    suite: str
    kinds: tuple[str, ...]
    question: str
    history: tuple[Turn, ...] = ()
    gold: tuple[str, ...] = ()
    expect: str | None = None
    level: str | None = None
    split: str | None = None
    why: str = ""
    raises: str | None = None
    must_not_contain: tuple[str, ...] = ()
    line: int = 0
    # Labels a report breaks results down by: "kind" (misspelt, negated, buried...) and "lang" (ISO 639-1).
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def topic(self) -> str:
        """The label before the colon of ``why`` (``"fever: Spanish"`` -> ``"fever"``)."""
        return self.why.split(":", 1)[0].strip() if ":" in self.why else ""


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    cases: tuple[Case, ...]
    sha256: str

    @property
    def kinds(self) -> tuple[str, ...]:
        present = {k for c in self.cases for k in c.kinds}
        return tuple(k for k in KINDS if k in present)

    def in_split(self, split: str) -> Suite:
        """Cases of ``split`` (``"all"`` keeps every case; a case without a split is in every split)."""
        if split not in SPLITS:
            raise ConfigError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
        kept = tuple(c for c in self.cases if split == "all" or c.split in (None, split))
        return Suite(self.name, self.path, kept, self.sha256)


def kinds_of(obj: Mapping[str, Any], suite: str) -> tuple[str, ...]:
    """The kinds a case is scored as (see the module docstring for the rule)."""
    if fnmatch.fnmatch(suite, "robustness*") or obj.get("robust") is True:
        return ("robustness",)
    if "message" in obj and "level" in obj:
        return ("triage",)
    if obj.get("history"):
        return ("conversation",)
    if obj.get("gold") or obj.get("expect") in IN_SCOPE:
        return ("retrieval", "answers")
    if obj.get("expect") in ("abstain", "refuse"):
        return ("abstention",)
    return ()


def generate(spec: Any) -> str:
    """Expand a generator spec into a message, so huge inputs stay small in the file.

    >>> generate({"repeat": "ab ", "times": 3, "insert": " fever ", "at": 0.5})
    'ab a fever b ab '
    """
    if not isinstance(spec, dict) or not isinstance(spec.get("repeat"), str) or not isinstance(spec.get("times"), int):
        raise ValueError('"generate" needs {"repeat": str, "times": int} and optionally "insert": str, "at": 0..1')
    body = spec["repeat"] * spec["times"]
    insert = spec.get("insert", "")
    at = spec.get("at", 0.5)
    if not isinstance(insert, str) or not isinstance(at, (int, float)) or not 0 <= at <= 1:
        raise ValueError('"insert" must be a string and "at" a number from 0 to 1')
    if len(body) + len(insert) > MAX_GENERATED_CHARS:
        raise ValueError(f"the generated message would exceed {MAX_GENERATED_CHARS} characters")
    cut = int(len(body) * at)
    return body[:cut] + insert + body[cut:]


def parse_case(obj: Any, suite: str) -> Case:
    """Validate one decoded line; raises ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise ValueError('missing a string "id"')
    if obj.get("expect") is not None and obj["expect"] not in EXPECTS:
        raise ValueError(f'"expect" must be one of {", ".join(EXPECTS)}, not {obj["expect"]!r}')
    kinds = kinds_of(obj, suite)
    if not kinds:
        raise ValueError(
            'cannot tell what to score: give "gold" sentences, "expect" (answer/partial/abstain/refuse), '
            '"message" with "level", or mark it "robust": true'
        )
    if "generate" in obj:
        text = generate(obj["generate"])
    else:
        text = obj.get("message", obj.get("question"))
        if not isinstance(text, str):
            raise ValueError('needs a string "question" (or "message", or a "generate" spec)')
    turns = turns_from_json(obj.get("history", []))
    gold = obj.get("gold", [])
    if not isinstance(gold, list) or not all(isinstance(g, str) and g.strip() for g in gold):
        raise ValueError('"gold" must be a list of non-empty sentences')
    expect = obj.get("expect", "answer" if gold else None)
    if expect in ("abstain", "refuse") and gold:
        raise ValueError(f'"expect": "{expect}" cannot have "gold" sentences')
    level = obj.get("level")
    if level is not None and level not in LEVELS:
        raise ValueError(f'"level" must be one of {", ".join(LEVELS)}, not {level!r}')
    split = obj.get("split")
    if split is not None and split not in ("tune", "test"):
        raise ValueError(f'"split" must be "tune" or "test", not {split!r}')
    banned = obj.get("must_not_contain", [])
    if not isinstance(banned, list) or not all(isinstance(b, str) for b in banned):
        raise ValueError('"must_not_contain" must be a list of strings')
    tags = tuple((key, obj[key]) for key in TAG_KEYS if key in obj)
    if not all(isinstance(value, str) and value for _, value in tags):
        raise ValueError(f'{" and ".join(f"{k!r}" for k in TAG_KEYS)} must be non-empty strings when given')
    raises = obj.get("raises")
    if raises is not None and not isinstance(raises, str):
        raise ValueError('"raises" must be the name of an AssistantError class, e.g. "EmptyQuestionError"')
    return Case(
        id=obj["id"],
        suite=suite,
        kinds=kinds,
        question=text,
        history=tuple(turns),
        gold=tuple(gold),
        expect=expect,
        level=level,
        split=split,
        why=str(obj.get("why", "")),
        raises=raises,
        must_not_contain=tuple(banned),
        tags=tags,
    )


def load_suite(path: Path) -> Suite:
    """Read one JSONL suite. A malformed line raises DataFileError naming the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"Cannot read eval suite {path}: {exc.strerror or exc}. Check the path.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataFileError(f"{path}, line {line}: not UTF-8 text. Save the file as UTF-8.") from exc
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            case = parse_case(obj, path.stem)
        except json.JSONDecodeError as exc:
            raise DataFileError(
                f"{path}, line {number}: not valid JSON ({exc.msg} at column {exc.colno}). "
                "Fix the line (one JSON object per line) or delete it."
            ) from exc
        except ValueError as exc:
            raise DataFileError(f"{path}, line {number}: {exc}. See evals/README.md for the case format.") from exc
        if case.id in seen:
            raise DataFileError(f"{path}, line {number}: id {case.id!r} is already used on line {seen[case.id]}; ids must be unique.")
        seen[case.id] = number
        cases.append(replace(case, line=number))
    if not cases:
        raise DataFileError(f"Eval suite {path} holds no cases. Add JSON lines or remove the file.")
    return Suite(path.stem, path, tuple(cases), hashlib.sha256(raw).hexdigest()[:12])


def discover(folder: Path) -> list[Suite]:
    """Every ``*.jsonl`` suite directly under ``folder``, sorted by name."""
    if not folder.is_dir():
        raise ConfigError(f"No eval folder at {folder}. Run from the repository root or pass --evals DIR.")
    paths = sorted(folder.glob("*.jsonl"))
    if not paths:
        raise ConfigError(f"No *.jsonl suites in {folder}. Add one (see evals/README.md).")
    return [load_suite(p) for p in paths]


def select(suites: Sequence[Suite], names: Iterable[str]) -> list[Suite]:
    """Suites whose name matches one of ``names`` (exact or glob); all of them when ``names`` is empty."""
    wanted = [n.strip() for n in names if n.strip()]
    if not wanted:
        return list(suites)
    available = [s.name for s in suites]
    for name in wanted:
        if not any(fnmatch.fnmatch(s, name) for s in available):
            raise ConfigError(f"No eval suite named {name!r}. Available: {', '.join(available)}.")
    return [s for s in suites if any(fnmatch.fnmatch(s.name, n) for n in wanted)]
