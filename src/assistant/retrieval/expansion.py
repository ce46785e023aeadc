"""Query expansion from a small domain lexicon kept as data (data/synonyms.yaml).

Patients write "puffy", "weeping", "zits"; the articles say swelling, oozing,
pimples. Expansion adds the articles' words to the retrieval query only; the
answer still quotes the sources verbatim, and triage never sees the expansion.

>>> Expander.from_file().expand("my face is puffy")
'my face is puffy swelling'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.config import DATA_DIR, data_file
from assistant.retrieval.retrievers import query_terms
from assistant.scope.subject import Subject
from assistant.text import Rule

# "anything else besides ice?": what the patient rules out is not searched for.
# Not "except" ("all fine except the swelling") nor "nothing other than X",
# where X is what the message is about.
_RULED_OUT = re.compile(
    r"(?<!nothing )(?<!none )\b(besides|other than|apart from|aside from|instead of)( the| a| an| my| using)?( [\w'-]+){1,2}",
    re.IGNORECASE)


@dataclass(frozen=True)
class Expansion:
    """One lexicon entry: when ``rule`` matches, ``add`` joins the query. An
    ``intent`` entry (what the patient wants to know: why, how long, what
    instead) reads the new question only; the others (the symptom or topic)
    also read the earlier turns a follow-up carries."""

    rule: Rule
    add: str
    intent: bool = False


@dataclass(frozen=True)
class Expander:
    rules: tuple[Expansion, ...]

    @classmethod
    def from_file(cls, path: Path | None = None) -> Expander:
        path = path or DATA_DIR / "synonyms.yaml"
        fix = "Each entry needs 'match' (a regex) and 'add', and may have 'unless' (a regex) and 'intent' (true/false)."
        with data_file(path, "Query expansions", fix) as data:
            rules = tuple(Expansion(Rule.from_entry(r), str(r["add"]), bool(r.get("intent", False)))
                          for r in data["expansions"])
        return cls(rules)

    def is_synonym(self, word: str) -> bool:
        """Whether ``word`` alone is a patient's word for the sources' words ("zits", "puffy")."""
        return any(not entry.intent and entry.rule.matches(word) for entry in self.rules)

    def terms(self, query: str, context: str = "") -> list[str]:
        """The terms to add: topic entries read ``context`` and ``query``, intent entries ``query`` only."""
        added: list[str] = []
        for entry in self.rules:
            text = query if entry.intent or not context else f"{context} {query}"
            if entry.rule.matches(text) and entry.add not in added:
                added.append(entry.add)
        return added

    def expand(self, query: str, context: Sequence[str] = (), subject: Subject | None = None) -> str:
        """The retrieval query: the earlier turns, the question less what it rules out and less
        the corpus's own ``subject`` (which every passage shares), then the added terms."""
        kept = _RULED_OUT.sub(" ", query)
        question = _without(kept if query_terms(kept) else query, subject)
        earlier = _without(" ".join(context), subject) if context else ""
        text = f"{earlier} {question}".strip()
        extra = self.terms(question, earlier)
        return f"{text} {' '.join(extra)}" if extra else text


def _without(query: str, subject: Subject | None) -> str:
    """``query`` without the corpus's subject, unless nothing else would be left ("what is microneedling?")."""
    if subject is None:
        return query
    stripped = subject.strip(query)
    return stripped if query_terms(stripped) else query


@lru_cache(maxsize=1)
def default_expander() -> Expander:
    return Expander.from_file()
