"""Query expansion from a small domain lexicon kept as data (data/synonyms.yaml).

Patients write "puffy", "weeping", "zits"; the articles say swelling, oozing,
pimples. Expansion adds the articles' words to the retrieval query only; the
answer still quotes the sources verbatim, and triage never sees the expansion.

>>> Expander.from_file().expand("my face is puffy")
'my face is puffy swelling'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.config import DATA_DIR, data_file
from assistant.retrieval import query_terms


@dataclass(frozen=True)
class Expander:
    rules: tuple[tuple[re.Pattern[str], str], ...]
    strip: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_file(cls, path: Path | None = None) -> Expander:
        path = path or DATA_DIR / "synonyms.yaml"
        with data_file(path, "Query expansions", "Each entry needs 'match' (a regex) and 'add'.") as data:
            rules = tuple((re.compile(r["match"], re.IGNORECASE), str(r["add"])) for r in data["expansions"])
            strip = tuple(re.compile(p, re.IGNORECASE) for p in data.get("strip", []))
        return cls(rules, strip)

    def names_subject(self, query: str) -> bool:
        """Whether the query names the corpus's own subject (the ``strip`` patterns)."""
        return any(pattern.search(query) for pattern in self.strip)

    def without_subject(self, query: str) -> str:
        """The query with the corpus's own subject removed, unless that would empty it."""
        stripped = query
        for pattern in self.strip:
            stripped = pattern.sub(" ", stripped)
        stripped = re.sub(r"\s+", " ", stripped).strip()
        return stripped if len(query_terms(stripped)) >= 1 else query

    def terms(self, query: str) -> list[str]:
        added: list[str] = []
        for pattern, terms in self.rules:
            if pattern.search(query) and terms not in added:
                added.append(terms)
        return added

    def expand(self, query: str) -> str:
        query = self.without_subject(query)
        extra = self.terms(query)
        return f"{query} {' '.join(extra)}" if extra else query


@lru_cache(maxsize=1)
def default_expander() -> Expander:
    return Expander.from_file()
