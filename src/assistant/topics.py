"""Adjacent topics the corpus does not cover, from data/topics.yaml.

A question naming one (Botox, stretch marks, pregnancy) is answered with an
honest "my sources do not cover <topic>" instead of the nearest passages,
which would only look relevant. How far the corpus covers a topic is looked
up in the indexed passages, once per topic and index, so swapping in a
document about it turns the check off for that topic without any edit here:

- *discussed* (named in at least ``DISCUSSED`` different sentences or
  headings): every question about it is answered from the sources;
- *mentioned* in passing (one sentence, such as "it can be combined with
  chemical peels or lasers"): answered only when the question is also about
  the corpus's own subject ("can I have a peel and microneedling together?"),
  not when it asks about the other treatment alone ("how long is the downtime
  after a chemical peel?");
- *absent*: never answered from the sources.

>>> topics = AdjacentTopics.from_file()
>>> passages = ["Redness is normal for a day or two. It can be combined with chemical peels."]
>>> topics.uncovered("does microneedling help stretch marks?", passages)
'stretch marks, cellulite and hair loss'
>>> topics.uncovered("how long is the downtime after a chemical peel", passages)
'chemical peels'
>>> topics.uncovered("a chemical peel the week after microneedling?", passages, names_subject=True) is None
True
>>> topics.uncovered("is my skin peeling normal?", passages) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.config import DATA_DIR, data_file
from assistant.text import Rule, fold, sentences

# A topic named in this many different sentences or headings is discussed by
# the corpus, not just mentioned in passing.
DISCUSSED = 2


@dataclass(frozen=True)
class Topic:
    name: str
    rule: Rule

    def named_in(self, question: str) -> bool:
        return self.rule.matches(question)


class AdjacentTopics:
    def __init__(self, topics: Iterable[Topic]) -> None:
        self.topics = tuple(topics)
        self._mentions: dict[tuple[int, str], int] = {}

    @classmethod
    def from_file(cls, path: Path | None = None) -> AdjacentTopics:
        path = path or DATA_DIR / "topics.yaml"
        fix = "Each entry of topics needs a name and a match (a regular expression)."
        with data_file(path, "Adjacent topics", fix) as data:
            return cls(Topic(str(t["name"]), Rule.from_entry(t)) for t in data["topics"])

    def uncovered(self, question: str, passages: Iterable[str], corpus_key: str | None = None,
                  names_subject: bool = False) -> str | None:
        """The first topic the question names that the passages do not cover for it, else None.

        ``names_subject`` says the question is also about the corpus's own
        subject, which a passing mention covers. ``corpus_key`` identifies the
        passages (one loaded index) so each topic is looked up once per index;
        None looks every time.
        """
        for i, topic in enumerate(self.topics):
            if not topic.named_in(question):
                continue
            key = (i, corpus_key or "")
            mentions = self._mentions.get(key) if corpus_key is not None else None
            if mentions is None:
                mentions = _mentions(topic.rule.pattern, passages)
                if corpus_key is not None:
                    self._mentions[key] = mentions
            if mentions < DISCUSSED and not (mentions and names_subject):
                return topic.name
        return None


def _mentions(pattern: re.Pattern[str], passages: Iterable[str]) -> int:
    """How many different sentences (or headings) of the passages match, up to ``DISCUSSED``."""
    found: set[str] = set()
    for passage in passages:
        if not pattern.search(passage):
            continue
        found.update(fold(s) for _, _, s in sentences(passage) if pattern.search(s))
        if len(found) >= DISCUSSED:
            break
    return len(found)
