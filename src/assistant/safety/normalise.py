"""Text as the rule patterns are written for it: lower case, accent-free, contractions joined.

Disguised letters are undone first, so that what a person reads is what the
rules read: markup and terminal escapes are removed (a real HTML parser, so
"pain <5 but pus for >3 days" keeps its words), invisible characters (zero-width
spaces, joiners, soft hyphens, BOMs, NULs, lone surrogates) are dropped, and a
look-alike letter from another script inside a word ("fеver" with a Cyrillic
"е") is folded to the word's main script (Unicode TR39 confusables, from
``confusable-homoglyphs``). A word written wholly in Cyrillic or Greek is left
as it is, so Russian still matches Russian.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["COMBINING", "Abbreviations", "fold_confusables", "normalise", "strip_markup"]

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})
_ELISION = re.compile(r"\b(qu|[ldjnmstc])'(?=[a-z])")
# Combining marks left by NFKD (e + U+0301 for "é"): dropping them removes the accents.
# Arabic harakat and hamza marks go too, as Arabic search does ("أقدر" reads as "اقدر").
COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
                       "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_JUNK = re.compile(r"[^\w\s.,;:!?/%°()+\-=&#\"'<>]")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-_])?")
# Invisible inside a word: C0/C1 controls other than white space, format
# characters (Cf: zero-width space and joiners, soft hyphen, word joiner, BOM,
# bidi controls) and lone surrogates (Cs). Deleted, so "fe\u200bver" is "fever".
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
                        "\ud800-\udfff]")
_TAG_START = re.compile(r"<[a-zA-Z/!?]")
_WORDS = re.compile(r"[^\W\d_]{2,}")
# A digit or symbol between letters stands for a letter ("bl1sters", "inf3cted", "sw0llen").
_LEET = re.compile(r"(?<=[a-z])[0134578@$](?=[a-z])")
_LEET_LETTERS = str.maketrans("0134578@$", "oieastbas")
# "p u s", "f.e.v.e.r", "b-l-i-s-t-e-r-s": three or more single letters in a row are one word.
_SPACED = re.compile(r"\b[a-z](?:[ .\-_*](?=[a-z]\b)[a-z]\b){2,}")
_CONFUSABLES_FILE = "confusables.json"


class _Text(HTMLParser):
    """Collects the text of an HTML fragment; text inside <script> and <style> is dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("script", "style")
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style") and self._skip > 0
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_markup(text: str) -> str:
    """Text without terminal escapes and HTML tags; a "<" that opens no tag stays.

    >>> strip_markup("pain <5 but <b>yellow</b> discharge for >3 days")
    'pain <5 but  yellow  discharge for >3 days'
    """
    text = _ANSI.sub("", text)
    if not _TAG_START.search(text):
        return text
    parser = _Text()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


@lru_cache(maxsize=1)
def _confusables() -> dict[str, list[dict[str, str]]]:
    """TR39 confusables: character -> its look-alikes ``[{"c": "o", "n": "LATIN SMALL LETTER O"}]``."""
    import confusable_homoglyphs  # lazy: 1 MB of data, only needed for a mixed-script word

    path = Path(confusable_homoglyphs.__file__).parent / _CONFUSABLES_FILE
    table: dict[str, list[dict[str, str]]] = json.loads(path.read_text(encoding="utf-8"))
    return table


def _script(ch: str) -> str:
    """The script of a letter from its Unicode name ("CYRILLIC SMALL LETTER O" -> "CYRILLIC")."""
    return unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]


@lru_cache(maxsize=4096)
def _fold_word(word: str) -> str:
    scripts = Counter(_script(ch) for ch in word)
    main = "LATIN" if scripts.get("LATIN", 0) >= max(scripts.values()) else scripts.most_common(1)[0][0]
    if len(scripts) == 1 and (main != "LATIN" or word.isascii()):
        return word  # wholly one script: a Russian word stays Russian
    table = _confusables()
    out = []
    for ch in word:
        if _script(ch) == main and (main != "LATIN" or ch.isascii()):
            out.append(ch)
            continue
        # subtle: for a Latin word, only an ASCII look-alike will do ("ı" -> "i"),
        # since the rules are written in plain letters.
        look = [h["c"] for h in table.get(ch, [])
                if h["n"].startswith(main + " ") and (main != "LATIN" or h["c"].isascii()) and len(h["c"]) == 1]
        out.append(look[0].lower() if look else ch)
    return "".join(out)


def fold_confusables(text: str) -> str:
    """Fold look-alike letters inside mixed-script words to the word's main script.

    >>> fold_confusables("my fаce is swоllen, у меня отёк")   # Cyrillic а and о in English words
    'my face is swollen, у меня отёк'
    """
    if text.isascii():
        return text
    return _WORDS.sub(lambda m: m.group(0) if m.group(0).isascii() else _fold_word(m.group(0)), text)


class Abbreviations:
    """Texting shorthand written out ("lips r huge rn" -> "lips are huge right now"), whole words only."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self.words = dict(words)
        alternatives = "|".join(map(re.escape, sorted(self.words, key=len, reverse=True)))
        self._pattern = re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w'])") if self.words else None

    def expand(self, text: str) -> str:
        return self._pattern.sub(lambda m: self.words[m.group(0)], text) if self._pattern else text


def normalise(text: str, emoji: Mapping[str, str] | None = None, abbreviations: Abbreviations | None = None) -> str:
    """Lower-case, accent-free, contraction-joined text that the rule patterns are written for.

    >>> normalise("J’ai de la FIÈVRE 🤒, can't sleep!!!", {"🤒": " fever "})
    'j ai de la fievre fever , cant sleep!'
    >>> normalise("fe\\u200bver and p u s, swоllen, bl1sters")
    'fever and pus, swollen, blisters'
    >>> normalise("lips r huge rn", abbreviations=Abbreviations({"r": "are", "rn": "right now"}))
    'lips are huge right now'
    """
    for symbol, words in (emoji or {}).items():
        text = text.replace(symbol, words)
    text = _INVISIBLE.sub("", strip_markup(text))
    text = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES))
    text = COMBINING.sub("", text).casefold().translate(_LIGATURES)
    text = fold_confusables(text)
    text = _LEET.sub(lambda m: m.group(0).translate(_LEET_LETTERS), text)
    text = _ELISION.sub(r"\1 ", text)  # French "j'ai" -> "j ai"
    text = text.replace("'", "")  # English "can't" -> "cant"
    text = _JUNK.sub(" ", text)  # emoji, symbols, control characters
    text = re.sub(r"([a-z])\1{2,}", r"\1", text)  # "sooo" -> "so"
    text = re.sub(r"([!?.])\1+", r"\1", text)
    text = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group(0)), text)
    if abbreviations is not None:  # after spaced letters are joined: "p u s" is not "p you s"
        text = abbreviations.expand(text)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r" *\n[\s]*", "\n", text).strip()
