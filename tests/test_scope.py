"""Scope: refuse, not covered, partial or answer, decided from the documents and the evidence.

The unit tests use small inputs; the integration tests ask the real pipeline, on
the bundled corpus and on a swapped one (the chemical-peel articles under
evals/swapped/peel), with the real embedding model and Chroma.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from assistant.errors import ConfigError, DataFileError
from assistant.scope import Scope, Subject, derive_subject
from assistant.scope.requests import Requests, names_a_drug
from assistant.scope.terms import CorpusTerms, is_chatter, specificity

ROOT = Path(__file__).resolve().parents[1]
PEEL = ROOT / "evals" / "swapped" / "peel" / "corpus"
REQUESTS = Requests.from_file()


# -- requests refused whatever the sources say ----------------------------------

@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("can you look at this photo of my cheek and tell me if it's infected", "a diagnosis from a photo"),
        ("i sent you a photo, what is this", "a diagnosis from a photo"),
        ("uploading a photo of my bumps, are they acne or infection", "a diagnosis from a photo"),
        ("what dose of amoxicillin should i take", "a change to a medicine"),
        ("is 800mg of advil ok after microneedling", "a change to a medicine"),
        ("how often can i take benadryl for the itching", "a change to a medicine"),
        ("can i double up on my cetirizine today?", "a change to a medicine"),
        ("I'm on doxycycline for the infection. Can I stop it early?", "a change to a medicine"),
        ("can i swap the mupirocin for neosporin", "a change to a medicine"),
        ("prescribe me something for the bumps", "a prescription"),
        ("can you write me a script for spironolactone", "a prescription"),
        ("which antibiotic is best to take for the bumps", "choosing a medicine"),
        ("pls write an email to the clinic demanding a refund", "writing a document"),
        ("write me a letter saying i can't work this week", "writing a document"),
        ("act as my dermatologist and tell me what this is", "a diagnosis"),
        ("tell me it's fine so I can cancel my appointment", "permission to skip care"),
        ("i don't want to go to the er, what can i do at home instead", "permission to skip care"),
    ],
)
def test_refused(message: str, kind: str) -> None:
    found = REQUESTS.match(message)
    assert found is not None and found.name == kind


@pytest.mark.parametrize(
    "message",
    [
        "what cream should i use after microneedling",
        "what painkiller can i take for the soreness",
        "is advil ok for the swelling",
        "can i take a photo of my skin every day to track healing",
        "my doctor prescribed a cream, can i use it",
        "i took 400mg of ibuprofen and it is still swollen",  # told, not asked
        "what spf do i need and which sunscreen brand is the best",  # sunscreen is a drug class, not a medicine
        "will the redness go away by itself?",
        "do i need to go to the er if my lips swell",
    ],
)
def test_not_refused(message: str) -> None:
    assert REQUESTS.match(message) is None


def test_a_dose_question_reads_the_medicine_from_the_exchange_before_it() -> None:
    earlier = "what can i take for the pain? Anti-inflammatory medications, such as ibuprofen, can help."
    assert REQUESTS.match("ok how many mg should i take", earlier) is not None
    assert REQUESTS.match("what should i use instead", earlier) is None  # no amount asked


def test_the_drug_dictionary_knows_names_no_list_here_has() -> None:
    assert names_a_drug("levothyroxine") and names_a_drug("Accutane") and not names_a_drug("a glass of water")


def test_a_malformed_scope_file_says_what_to_fix(tmp_path: Path) -> None:
    bad = tmp_path / "scope.yaml"
    bad.write_text("requests:\n  - name: broken\n    text: x\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="all_of"):
        Requests.from_file(bad)


# -- the subject, from the documents -----------------------------------------------

def test_the_subject_comes_from_the_titles_and_documents() -> None:
    from assistant.corpus.cleaning import load_corpus

    for folder, expected in ((ROOT / "corpus", ("microneedling",)), (PEEL, ("chemical", "peel"))):
        docs, _ = load_corpus(folder)
        assert derive_subject([d.title for d in docs], [d.text for d in docs]).terms == expected


def _said(path: Path) -> list[str]:
    """What a file tells the program: a module's string constants (not its docstrings or
    comments, where examples may name anything), or a data file's lines less comments."""
    text = path.read_text(encoding="utf-8", errors="ignore")
    if path.suffix != ".py":
        return [line.split("#", 1)[0] for line in text.splitlines()]
    tree = ast.parse(text)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_no_code_or_data_file_names_the_subject() -> None:
    """The bundled subject must come from the corpus: nothing the pipeline reads names it.

    Triage's phrasing bank and lexicons quote patients, who may mention it; they
    never tell the pipeline what the corpus is about."""
    package = ROOT / "src" / "assistant"
    quoting_patients = {"redflag_bank.yaml", "redflag_languages.yaml", "redflags.yaml", "grounding_pairs.jsonl"}
    pattern = re.compile(r"micro[\s-]?needl(?!ing-assistant)", re.IGNORECASE)
    named = sorted({str(p.relative_to(package)) for p in package.rglob("*")
                    if p.is_file() and p.suffix in (".py", ".yaml", ".toml", ".json", ".txt")
                    and p.name not in quoting_patients and any(pattern.search(s) for s in _said(p))})
    assert named == []


def test_the_subjects_slot_comes_from_the_documents() -> None:
    """Filler leaflets say "after filler": a question with another word in that slot is about something else."""
    texts = ["Swelling after filler is normal.", "Bruising after filler fades.", "After lip filler, avoid heat.",
             "Filler can cause lumps after a day or two."]
    subject = derive_subject(["Normal after filler", "Filler aftercare"], texts)
    assert subject.terms == ("filler",) and "after" in subject.before
    tokens = "is swelling normal after microneedling".split()
    assert 4 in subject.in_its_slot(tokens, lambda w: False)  # "microneedling", where "filler" would be
    assert 3 in subject.in_its_slot("after the lip microneedling".split(), lambda w: w == "lip")
    assert 3 not in subject.in_its_slot("after the lip microneedling".split(), lambda w: False)
    assert Subject.from_dict(subject.to_dict()) == subject


def test_subject_strip_takes_every_spelling() -> None:
    subject = Subject(("microneedling",), "microneedling", ("micro needling",))
    assert subject.strip("micro-needling and Microneedling, micro needling") == "and ,"
    assert Subject().strip("anything at all") == "anything at all"


# -- words ---------------------------------------------------------------------------

def test_specificity_and_chatter() -> None:
    assert specificity("the") == 0.0 and specificity("days") < 0.1 < specificity("minoxidil")
    assert is_chatter("lol") and is_chatter("sooo") and not is_chatter("router")


def test_corpus_terms_read_inflections_and_misspellings() -> None:
    terms = CorpusTerms.from_vocabulary({"pimples": 3, "infection": 2, "microneedling": 9}, 10)
    assert terms.knows("pimple") and terms.knows("infektion") and not terms.knows("router")
    assert terms.joined(["micro", "needling", "hurt"]) == ["microneedling", "hurt"]


def test_missing_weights_say_how_to_restore_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.scope as scope

    monkeypatch.setattr(scope, "tuning", lambda: {"defaults": {}, "scope": {"bias": 1.0}})
    with pytest.raises(ConfigError, match="tune_scope.py"):
        Scope.from_files()


def test_parts_of_a_two_part_question() -> None:
    parts = Scope.from_files().parts("is the redness normal and how much does a session cost?")
    assert parts == ["is the redness normal", "how much does a session cost"]


# -- the real pipeline -----------------------------------------------------------------

@pytest.mark.integration
@pytest.mark.parametrize(
    "question",
    [
        "how do i get a red wine stain out of a shirt",
        "can i use minoxidil with microneedling for hair loss",
        "how do i reset my router",
    ],
)
def test_not_covered_on_the_bundled_corpus(real_assistant, question: str) -> None:
    answer = real_assistant.ask(question)
    assert answer.abstained and answer.scope is not None and answer.scope.decision == "not covered"
    assert answer.citations == () and "do not cover" in answer.answer
    assert "microneedling" in answer.answer  # what the sources are about, from the manifest


@pytest.mark.integration
def test_the_decline_names_what_is_missing_and_keeps_the_notice(real_assistant) -> None:
    answer = real_assistant.ask("my lips are swelling after eating peanuts and my throat feels tight")
    assert answer.triage.level == "emergency" and answer.notice == real_assistant.texts.notice_for(answer.triage)
    refused = real_assistant.ask("I have pus and a fever, what dose of antibiotics should I take?")
    assert refused.refused and refused.triage.level == "urgent" and refused.citations == ()
    assert refused.notice == real_assistant.texts.notice_for(refused.triage)


@pytest.mark.integration
def test_in_scope_questions_are_answered(real_assistant) -> None:
    for question in ("is it normal to be red two days after microneedling", "got zits after my session, normal?",
                     "what are the signs of an infection"):
        answer = real_assistant.ask(question)
        assert not answer.abstained and answer.scope.decision in ("answer", "partial") and answer.citations


@pytest.mark.integration
def test_a_two_part_question_gets_the_covered_part_and_a_plain_statement(real_assistant) -> None:
    answer = real_assistant.ask("is redness normal after microneedling and can i put minoxidil on my scalp after")
    assert answer.scope.decision == "partial" and answer.citations
    assert "minoxidil" in answer.scope.note and "minoxidil" in answer.scope.uncovered
    assert answer.to_dict()["scope"]["note"] == answer.scope.note


@pytest.mark.integration
def test_the_manifest_records_the_subject(real_settings) -> None:
    manifest = json.loads(next(real_settings.index_dir.rglob("manifest.json")).read_text(encoding="utf-8"))
    assert manifest["scope"]["subject"]["terms"] == ["microneedling"]


@pytest.mark.integration
def test_a_swapped_corpus_moves_the_scope(tmp_path: Path, real_embedder) -> None:
    """Peel articles in place of the bundled ones: microneedling questions are not covered,
    peel questions are answered from the peel articles, with nothing edited."""
    from assistant.config import Settings
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    shutil.copytree(PEEL, tmp_path / "corpus")
    settings = Settings.resolve(env={}, flags={"corpus_dir": tmp_path / "corpus", "index_dir": tmp_path / "index"})
    ingest(settings, real_embedder)
    assistant = Assistant.load(settings, real_embedder)
    assert assistant.index.scope.subject.name == "chemical peel"
    declined = assistant.ask("how long do pimples last after microneedling")
    assert declined.abstained and "microneedling" in declined.scope.uncovered
    assert "chemical peel" in declined.answer
    answered = assistant.ask("how long does the peeling last after my peel")
    assert not answered.abstained and answered.citations


def test_the_scope_docstrings_hold() -> None:
    import doctest

    import assistant.scope
    import assistant.scope.requests
    import assistant.scope.subject
    import assistant.scope.terms

    for module in (assistant.scope, assistant.scope.requests, assistant.scope.subject, assistant.scope.terms):
        assert doctest.testmod(module).failed == 0, module.__name__


# -- found on review: edge cases -------------------------------------------------------

def test_stemming_is_safe_across_threads() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from assistant.scope.terms import stem

    vocabulary = [f"{w}{s}" for w in ("member", "reserve", "infect", "swell", "irritat", "redden", "scar")
                  for s in ("", "s", "ing", "ed", "ation", "ness", "ful", "ly")]
    stem.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(stem, vocabulary * 20))
    stem.cache_clear()
    assert together == [stem(w) for w in vocabulary * 20]


def test_review_found_false_refusals_are_gone() -> None:
    earlier = "I'm on doxycycline for a spot."
    assert REQUESTS.match("how many days does the redness last?", earlier) is None
    assert REQUESTS.match("Can you check if I understood the aftercare right?") is None


def test_refusal_patterns_have_no_unbounded_gaps() -> None:
    """A long message must not make a pattern backtrack for minutes: every gap is bounded."""
    for kind in REQUESTS.kinds:
        for pattern in kind.patterns:
            assert ".*" not in pattern.pattern and "[^?]*" not in pattern.pattern, (kind.name, pattern.pattern)


def test_parts_do_not_return_the_words_between_them() -> None:
    parts = Scope.from_files().parts("is redness normal as well as how long it lasts, by the way any tips")
    assert "as well as" not in parts and "by the way" not in parts


def test_a_single_document_has_no_subject() -> None:
    assert derive_subject(["Signs of a bad reaction after microneedling"], ["Some text."]) == Subject()


def test_only_english_topic_words_are_said_back() -> None:
    from assistant.scope import nameable, unsayable

    private = unsayable("I'm Jane Smithson, jane.smithson@gmail.com. Minoxidil after my session?")
    assert {"jane", "smithson", "gmail"} <= private and "minoxidil" not in private
    assert nameable("minoxidil", private) and not nameable("smithson", private) and not nameable("the")


@pytest.mark.integration
def test_a_message_naming_nothing_is_not_answered(real_assistant) -> None:
    for message in ("???", "ok", "Привет, это нормально?"):
        answer = real_assistant.ask(message)
        assert answer.abstained and answer.citations == (), message
    from assistant.schema import Turn

    follow_up = real_assistant.ask("so what should i do", [Turn("user", "i have chills tonight, had microneedling today"),
                                                          Turn("assistant", "...")])
    assert not follow_up.abstained and follow_up.triage.level == "urgent"


@pytest.mark.integration
def test_under_a_red_flag_the_decline_repeats_none_of_the_users_words(real_assistant) -> None:
    answer = real_assistant.ask("I have a fever and pus. Also how do i reset my router")
    assert answer.triage.level == "urgent" and answer.notice == real_assistant.texts.notice_for(answer.triage)
    assert "router" not in answer.answer and (answer.scope.decision != "partial")


@pytest.mark.integration
def test_adding_articles_on_another_treatment_covers_it_with_nothing_to_edit(tmp_path: Path, real_embedder) -> None:
    """A clinic adds three laser-hair-removal articles to the bundled ones: laser questions are
    answered from them, and microneedling questions are still answered from the rest."""
    from assistant.config import Settings
    from assistant.index.ingest import ingest
    from assistant.pipeline import Assistant

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for article in (ROOT / "evals" / "swapped" / "laser" / "corpus").iterdir():
        shutil.copy(article, corpus / article.name)
    settings = Settings.resolve(env={}, flags={"corpus_dir": corpus, "index_dir": tmp_path / "index"})
    ingest(settings, real_embedder)
    assistant = Assistant.load(settings, real_embedder)
    laser = assistant.ask("how long does redness last after laser hair removal")
    assert not laser.abstained and any("laser" in c.doc for c in laser.citations)
    pimples = assistant.ask("is it normal to get pimples after microneedling")
    assert not pimples.abstained and pimples.citations
