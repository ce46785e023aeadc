"""Adjacent topics the corpus does not cover, from data/topics.yaml.

A question naming one (Botox, stretch marks, pregnancy) is answered with an
honest "my sources do not cover <topic>" instead of the nearest passages,
which would only look relevant. Whether the corpus covers a topic is looked
up in the indexed passages, once per topic and index, so swapping in a
document about it turns the check off for that topic without any edit here.

>>> topics = AdjacentTopics.from_file()
>>> passages = ["Redness is normal for a day or two."]
>>> topics.uncovered("does microneedling help stretch marks?", passages)
'stretch marks, cellulite and hair loss'
>>> topics.uncovered("is my skin peeling normal?", passages) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.config import DATA_DIR, data_file


@dataclass(frozen=True)
class Topic:
    name: str
    pattern: re.Pattern[str]


class AdjacentTopics:
    def __init__(self, topics: Iterable[Topic]) -> None:
        self.topics = tuple(topics)
        self._covered: dict[tuple[int, str], bool] = {}

    @classmethod
    def from_file(cls, path: Path | None = None) -> AdjacentTopics:
        path = path or DATA_DIR / "topics.yaml"
        fix = "Each entry of topics needs a name and a match (a regular expression)."
        with data_file(path, "Adjacent topics", fix) as data:
            return cls(Topic(str(t["name"]), re.compile(str(t["match"]), re.IGNORECASE)) for t in data["topics"])

    def uncovered(self, question: str, passages: Iterable[str], corpus_key: str | None = None) -> str | None:
        """The first topic the question names that no passage mentions, else None.

        ``corpus_key`` identifies the passages (one loaded index) so each topic's
        lookup is done once per index; None looks every time.
        """
        for i, topic in enumerate(self.topics):
            if not topic.pattern.search(question):
                continue
            key = (i, corpus_key or "")
            covered = self._covered.get(key) if corpus_key is not None else None
            if covered is None:
                covered = any(topic.pattern.search(p) for p in passages)
                if corpus_key is not None:
                    self._covered[key] = covered
            if not covered:
                return topic.name
        return None
