"""The fixed safety texts (escalation notices, abstention, system prompt), loaded from data.

What the assistant refuses to do is decided by assistant.scope (data/scope.yaml).

>>> texts = SafetyTexts.from_file()
>>> texts.notice("none") is None
True
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from assistant.config import DATA_DIR, data_file
from assistant.errors import DataFileError
from assistant.schema import Level, Triage


@dataclass(frozen=True)
class SafetyTexts:
    notices: dict[str, str]
    abstention: str
    disclaimer: str
    system_prompt: str
    system_prompt_version: int
    unavailable: str = ""
    too_long: str = ""
    withheld: str = ""
    emergency_body: str = ""
    discouraging: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_file(cls, path: Path | None = None) -> SafetyTexts:
        path = path or DATA_DIR / "safety.yaml"
        fix = ("Each of notices.emergency, notices.urgent, emergency_body, abstention, unavailable, disclaimer, "
               "system_prompt.text and system_prompt.version must be set.")
        with data_file(path, "Safety texts", fix) as data:
            notices = {k: str(data["notices"][k]).strip() for k in ("emergency", "urgent")}
            texts = cls(
                notices=notices,
                abstention=str(data["abstention"]).strip(),
                disclaimer=str(data["disclaimer"]).strip(),
                system_prompt=str(data["system_prompt"]["text"]).strip(),
                system_prompt_version=int(data["system_prompt"]["version"]),
                unavailable=str(data["unavailable"]).strip(),
                too_long=str(data.get("too_long") or "").strip(),
                withheld=str(data.get("withheld") or "").strip(),
                emergency_body=str(data["emergency_body"]).strip(),
                discouraging=_discouraging(data.get("discouraging")),
            )
        if not all(texts.notices.values()):
            raise DataFileError(f"Safety texts {path}: an escalation notice is empty; every tier needs its text.")
        return texts

    def message_too_long(self, length: int, limit: int) -> str:
        """The note for a message over the size cap: it asks for a shorter message."""
        text = self.too_long or "Your message is {length} characters long; please send one of up to {limit} characters."
        return text.replace("{length}", f"{length:,}").replace("{limit}", f"{limit:,}")

    def discourages_care(self, sentence: str) -> bool:
        """True for a sentence that tells the user not to seek care or to ignore a warning."""
        return any(p.search(sentence) for p in self.discouraging)

    def discouraging_sentences(self, text: str) -> list[str]:
        """The sentences of ``text`` (a document) that talk the reader out of care."""
        from assistant.text import sentences

        return [s for _, _, s in sentences(text) if self.discourages_care(s)]

    def notice(self, level: Level) -> str | None:
        return self.notices.get(level)

    def notice_for(self, triage: Triage) -> str | None:
        """The tier's notice, followed by triage's fixed advisory (the language fail-safe) when it has one."""
        notice = self.notices.get(triage.level)
        if notice and triage.advisory:
            return f"{notice}\n\n{triage.advisory}"
        return notice

    @property
    def system_prompt_hash(self) -> str:
        return hashlib.sha256(self.system_prompt.encode()).hexdigest()[:12]


def _discouraging(spec: dict | None) -> tuple[re.Pattern[str], ...]:
    if not spec:
        return ()
    care, help_ = f"(?:{spec['care_words']})", f"(?:{spec['help_words']})"
    return tuple(
        re.compile(p.replace("({care})", care).replace("({help})", help_), re.IGNORECASE) for p in spec["patterns"]
    )


@lru_cache(maxsize=1)
def default_texts() -> SafetyTexts:
    return SafetyTexts.from_file()
