"""The layers of triage beyond the rules: normalisation, spelling, languages, the semantic layer.

Every layer after the rules can only raise a tier. The phrasing bank and the
language lexicons are data; these tests run them (every bank example must
escalate; the semantic layer must add nothing to a counterexample; every
lexicon test sentence must be read as its author labelled it).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from assistant.errors import DataFileError
from assistant.schema import Triage
from assistant.safety import Triager, normalise
from assistant.safety.engine import raise_to
from assistant.safety.languages import DEFAULT_LANGUAGES, Detection, lexicon_hits, load_lexicons
from assistant.safety.normalise import strip_markup
from assistant.safety.rules import DEFAULT_RULES, Rules
from assistant.safety.semantic import DEFAULT_BANK, Bank, sentences_of

LEXICON_TESTS = Path(__file__).parent / "data" / "lexicon"
RANK = {"none": 0, "urgent": 1, "emergency": 2}


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager.from_file()


# --------------------------------------------------------------------------- disguised letters

DISGUISED = [
    ("my face is sw\u043ellen and I have a f\u0435ver", "Cyrillic о and е inside English words"),
    ("sw\u03bfllen and hot, f\u03bful smell", "Greek ο inside words"),
    ("f\u0131ver and chills", "dotless ı"),
    ("I have a fe\u200bver and pus", "zero-width space"),
    ("fe\u200dver and p\u200cus", "zero-width joiner and non-joiner"),
    ("bl\u00adisters on my cheek", "soft hyphen"),
    ("fe\u2060ver since yesterday", "word joiner"),
    ("\ufefffever and pus", "byte-order mark"),
    ("fe\x00ver and pus", "NUL inside a word"),
    ("fe\x1b[31mver\x1b[0m and pus", "ANSI colour escape inside a word"),
    ("fe\ud800ver and pus", "lone surrogate inside a word"),
    ("pain <5 but yellow discharge for >3 days", "< and > as less and more than"),
    ("<b>fever</b> and <i>pus</i>", "HTML tags around the words"),
    ("there's p u s coming out of my chin", "letters spaced out"),
    ("f.e.v.e.r and chills", "letters dotted"),
    ("bl1sters on my forehead since this morning", "a digit for a letter"),
    ("FEVER AND PUS", "capitals"),
]


@pytest.mark.parametrize(("message", "why"), DISGUISED, ids=[w for _, w in DISGUISED])
def test_disguised_letters_still_escalate(triager: Triager, message: str, why: str) -> None:
    assert triager.assess(message).level != "none", why


def test_wholly_cyrillic_words_stay_cyrillic() -> None:
    assert normalise("у меня температура") == "у меня температура"
    assert normalise("my fаce") == "my face"  # Cyrillic а folded inside an English word


def test_markup_keeps_comparisons() -> None:
    assert "<5" in strip_markup("pain <5 but yellow discharge for >3 days")
    assert strip_markup("<script>alert(1)</script>fever").strip() == "fever"


def test_a_red_flag_after_20000_characters_escalates(triager: Triager) -> None:
    message = "my skin is a bit pink today. " * 1200 + "Now my lips are swelling and I can't breathe."
    assert len(message) > 30_000
    assert triager.assess(message).level == "emergency"


# --------------------------------------------------------------------------- spelling

@pytest.mark.parametrize("message", [
    "i have hivs all over my neck",
    "I think I have an infaction",
    "the bleading wont stop, an hour now",
    "big blistres on my cheek",
])
def test_misspelt_signs_escalate(triager: Triager, message: str) -> None:
    assert triager.assess(message).level == "urgent"


def test_spelling_changes_what_is_matched_not_what_is_said(triager: Triager) -> None:
    assert triager.spelling is not None
    assert triager.spelling.correct("i have hivs") == "i have hives"
    assert triager.spelling.correct("the clinic was lovely") == "the clinic was lovely"


def test_spelling_is_not_applied_to_other_languages(triager: Triager) -> None:
    # "bekomme" and "Luft" would be "become" and "left" to an English speller.
    assert triager.assess("Ich bekomme keine Luft").level == "emergency"


# --------------------------------------------------------------------------- raise only

def test_a_later_layer_never_lowers_a_tier() -> None:
    urgent = Triage("urgent", ("fever or chills",))
    assert raise_to(urgent, "none", ["x"]) == urgent
    assert raise_to(urgent, "emergency", ["airway"]).signals == ("airway", "fever or chills")
    assert raise_to(Triage("none"), "none", ["x"]).level == "none"


# --------------------------------------------------------------------------- languages

def _lexicon_cases() -> list[tuple[str, str, frozenset[str]]]:
    cases = []
    for path in sorted(LEXICON_TESTS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                expected, _, sentence = line.partition("\t")
                ids = frozenset() if expected.strip() == "-" else frozenset(expected.split(","))
                cases.append((path.stem, sentence, ids))
    return cases


LEXICON_CASES = _lexicon_cases()


def test_every_covered_language_has_test_sentences() -> None:
    assert {lang for lang, _, _ in LEXICON_CASES} >= {"es", "fr", "pt", "de", "it", "zh", "ar", "hi", "hi_latn",
                                                      "tl", "vi", "ko", "ru", "pl"}
    assert len(LEXICON_CASES) >= 600


def test_lexicon_sentences_are_read_as_labelled(triager: Triager) -> None:
    """Each language's own sentences: the signs are found, and harmless ones find nothing.

    The author of the lexicon wrote these; 13 of them were known failures when they
    were written (kept visible below, never skipped)."""
    tiers = {r.id: r.tier for r in triager.rules.rules}
    wrong = []
    for lang, sentence, expected in LEXICON_CASES:
        found = {h.rule_id for h in lexicon_hits(triager.lexicons[lang], normalise(sentence), tiers)}
        if (expected and not expected <= found) or (not expected and found):
            wrong.append((lang, sentence, sorted(expected), sorted(found)))
    missed = [w for w in wrong if w[2]]
    assert not missed, f"signs missed: {missed}"
    assert len(wrong) <= KNOWN_LEXICON_FALSE_ALARMS, f"false alarms: {wrong}"


# Harmless sentences a lexicon still flags, accepted by its author rather than miss a real
# sign (Polish "Gorączki nie mam" next to "nie mam siły", Tagalog "no fever naman", ...).
KNOWN_LEXICON_FALSE_ALARMS = 6


@pytest.mark.parametrize(("message", "level"), [
    ("Mikroiğne sonrası dudaklarım şişti ve nefes almakta zorlanıyorum", "emergency"),   # Turkish
    ("Після процедури мені важко дихати і набрякли губи", "emergency"),                # Ukrainian
    ("minha garganta tá fechando e minha língua inchou", "emergency"),                 # Portuguese
    ("Kein Fieber, kein Eiter, nur ein paar kleine Pickel am zweiten Tag", "none"),     # German, negated
    ("没有发烧也没有流脓，就是有点干、脱皮", "none"),                                      # Chinese, negated
])
def test_languages(triager: Triager, message: str, level: str) -> None:
    assert triager.assess(message).level == level


def test_an_uncovered_language_gets_the_fail_safe(triager: Triager) -> None:
    result = triager.assess("Ég er með mikinn hita og það lekur gröftur úr andlitinu á mér")  # Icelandic
    assert result.level == "urgent"
    assert any("cannot read reliably" in s for s in result.signals)
    assert result.advisory is not None and "emergency services" in result.advisory


def test_the_fail_safe_notice_is_in_the_language_when_it_is_covered(triager: Triager) -> None:
    assert triager.guard is not None
    portuguese = triager.guard.failsafe_text(Detection("pt", 0.3, False))
    assert portuguese != triager.guard.failsafe_en and portuguese == triager.lexicons["pt"].failsafe
    assert triager.guard.failsafe_text(Detection("is", 0.9, False)) == triager.guard.failsafe_en


def test_english_texting_is_not_sent_to_the_fail_safe(triager: Triager) -> None:
    assert triager.assess("ngl my face is kinda pink n dry rn, day 1 lol").level == "none"


# --------------------------------------------------------------------------- data files reject unknown keys

def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_rules_reject_an_unknown_key(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_RULES.read_text(encoding="utf-8"))
    data["rules"][0]["exampels"] = ["typo"]
    with pytest.raises(DataFileError, match="unknown field"):
        Rules.from_file(_write(tmp_path, "rules.yaml", data))


def test_bank_rejects_unknown_ids_and_keys(tmp_path: Path) -> None:
    rules = Rules.from_file()
    data = yaml.safe_load(DEFAULT_BANK.read_text(encoding="utf-8"))
    wrong_id = copy.deepcopy(data)
    wrong_id["signals"]["no_such_rule"] = {"examples": ["x"]}
    with pytest.raises(DataFileError, match="not a rule id"):
        Bank.from_file(rules, _write(tmp_path, "bank.yaml", wrong_id))
    wrong_key = copy.deepcopy(data)
    wrong_key["signals"]["fever"]["exmaples"] = ["x"]
    with pytest.raises(DataFileError, match="nothing else"):
        Bank.from_file(rules, _write(tmp_path, "bank2.yaml", wrong_key))


def test_lexicon_rejects_unknown_keys(tmp_path: Path) -> None:
    rules = Rules.from_file()
    data = yaml.safe_load(DEFAULT_LANGUAGES.read_text(encoding="utf-8"))
    data["languages"]["pt"]["negations"] = ["não"]
    with pytest.raises(DataFileError, match="must have exactly the fields"):
        load_lexicons(rules, _write(tmp_path, "languages.yaml", data))


def test_no_data_file_claims_a_review_that_is_not_recorded() -> None:
    for path in (DEFAULT_RULES, DEFAULT_BANK, DEFAULT_LANGUAGES):
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        assert "reviewed_by" in data and "reviewed_on" in data, path.name
        if not data["reviewed_by"]:
            assert "Reviewed by a clinician" not in text, path.name


# --------------------------------------------------------------------------- the bank

def test_every_signal_has_thirty_phrasings() -> None:
    rules = Rules.from_file()
    bank = Bank.from_file(rules)
    for rule in rules.rules:
        assert len(bank.examples.get(rule.id, ())) >= 30, rule.id
        assert len(bank.counterexamples.get(rule.id, ())) >= 10, rule.id


def test_long_messages_are_read_in_windows() -> None:
    words = " ".join(f"w{i}" for i in range(100))
    windows = sentences_of(words)
    assert len(windows) > 3 and all(len(w.split()) <= 32 for w in windows)
    assert sentences_of("day 1. all fine. day 1.") == ["day 1", "all fine"]


@pytest.mark.integration
def test_every_bank_example_escalates_and_the_semantic_layer_adds_nothing_to_counterexamples(
    real_embedder: object,
) -> None:
    from assistant.config import Settings

    settings = Settings.resolve()
    rules_only = Triager.from_file()
    layered = rules_only.with_semantic(real_embedder.embed_documents,  # type: ignore[attr-defined]
                                       settings.semantic_threshold, settings.semantic_margin, cache_dir=None)
    tiers = {r.id: r.tier for r in rules_only.rules.rules}
    assert layered.bank is not None
    missed = [(rid, text, got.level) for rid, texts in layered.bank.examples.items() for text in texts
              if RANK[(got := layered.assess(text)).level] < RANK[tiers[rid]]]
    assert not missed, missed
    counter = [t for texts in layered.bank.counterexamples.values() for t in texts] + list(layered.bank.normal)
    added = [text for text in counter if layered.assess(text).level != rules_only.assess(text).level]
    assert not added, added


def test_a_word_of_thousands_of_letters_is_read_without_error(triager: Triager, caplog: pytest.LogCaptureFixture) -> None:
    result = triager.assess("x" * 21_000 + " and I have a fever")
    assert result.level == "urgent" and "fever or chills" in result.signals
    assert "triage failed" not in caplog.text


# --------------------------------------------------------------------------- failures and earlier turns

def test_a_failing_later_layer_keeps_the_rules_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    triager = Triager.from_file()
    assert triager.guard is not None

    def broken(*_: object) -> None:
        raise RuntimeError("language detection broke")

    monkeypatch.setattr(triager.guard, "detect", broken)
    result = triager.assess("my lips are swelling and it's hard to swallow")
    assert result.level == "emergency"
    assert triager.assess("day 1, a bit pink").level == "urgent"  # unsure of the rest: at least urgent


def test_a_sign_in_another_language_two_turns_ago_still_counts(triager: Triager) -> None:
    from assistant.schema import Turn

    history = [Turn("user", "Puchną mi usta i nie mogę oddychać"), Turn("assistant", "Please call 112.")]
    result = triager.assess("ok what should I do now?", history)
    assert result.level == "emergency"
    assert any(s.startswith("earlier: ") for s in result.signals)


def test_an_earlier_sign_said_to_be_over_is_not_read_again(triager: Triager) -> None:
    from assistant.schema import Turn

    history = [Turn("user", "Mam gorączkę od wczoraj"), Turn("assistant", "Please contact a doctor today.")]
    assert triager.assess("it's gone now, I feel fine", history).level == "none"
