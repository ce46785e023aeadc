"""The eval suite: every metric on hand-built inputs, suite loading, thresholds, --against,
and one run of the real ``assistant eval`` on the real corpus and model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from assistant.errors import AssistantError, ConfigError, DataFileError
from assistant.evaluation.compare import compare
from assistant.evaluation.metrics import (
    CitationCheck,
    Observation,
    abstained_as_expected,
    check_citations,
    cited_claims,
    confusion,
    covers,
    first_hit,
    known_metrics,
    mean_reciprocal_rank,
    ndcg_at_k,
    percentile,
    recall_at_k,
    summarize,
    triage_scores,
)
from assistant.evaluation.report import load_report, printable
from assistant.evaluation.suites import discover, generate, kinds_of, load_suite, parse_case, select
from assistant.evaluation.thresholds import Thresholds

ROOT = Path(__file__).resolve().parents[1]
EVALS = ROOT / "evals"
CORPUS = ROOT / "corpus"


def case(suite: str = "s", **fields):
    text = {} if "message" in fields else {"question": "q"}
    return parse_case({"id": "x", **text, **fields}, suite)


# --- retrieval metrics -------------------------------------------------------------------

def test_recall_at_k_counts_cases_with_any_hit_in_the_top_k() -> None:
    ranks = [1, 2, 4, None, 10]
    assert recall_at_k(ranks, 1) == 0.2
    assert recall_at_k(ranks, 3) == 0.4
    assert recall_at_k(ranks, 5) == 0.6
    assert recall_at_k(ranks, 10) == 0.8
    assert recall_at_k([], 5) is None


def test_mrr_is_the_mean_reciprocal_rank_of_the_first_hit() -> None:
    assert mean_reciprocal_rank([1, 2, 4, None]) == pytest.approx((1 + 0.5 + 0.25 + 0) / 4)
    assert mean_reciprocal_rank([]) is None
    assert first_hit([False, False, True, True]) == 3
    assert first_hit([False]) is None


def test_ndcg_uses_binary_relevance_and_the_ideal_ranking() -> None:
    assert ndcg_at_k([True, False], 1) == 1.0
    assert ndcg_at_k([False, True], 1) == pytest.approx(1 / math.log2(3))
    dcg = 1 / math.log2(3) + 1 / math.log2(4)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k([False, True, True], 3) == pytest.approx(dcg / ideal)
    assert ndcg_at_k([False] * 10, 2) == 0.0
    assert ndcg_at_k([True] * 12, 20, k=10) == pytest.approx(1.0)  # ideal capped at k


# --- answer metrics ----------------------------------------------------------------------

SOURCE_1 = "Redness is normal for a day or two. Apply a gentle moisturizer."
SOURCE_2 = "If you have a fever, contact your practitioner immediately."


def test_coverage_is_a_normalised_match_of_any_gold_sentence() -> None:
    answer = "Redness is   normal for a day or two. [1] See a doctor."
    assert covers(answer, ["Nothing like this.", "redness is normal for a day or two."])
    assert not covers(answer, ["Apply a gentle moisturizer."])
    assert covers("It’s fine. [1]", ["It's fine."])  # typographic quote folded


def test_cited_claims_pair_each_claim_with_its_markers() -> None:
    claims, rest = cited_claims("A is true. [1] B is true [2]. C and D. [1][3] Uncited tail.")
    assert claims == [("A is true.", (1,)), ("B is true.", (2,)), ("C and D.", (1, 3))]
    assert rest == "Uncited tail."
    assert cited_claims("Both. [1, 2]")[0] == [("Both.", (1, 2))]


def test_citation_precision_and_validity_of_a_faithful_answer() -> None:
    answer = "Redness is normal for a day or two. [1] If you have a fever, contact your practitioner immediately. [2]"
    check = check_citations(answer, {1: SOURCE_1, 2: SOURCE_2})
    assert check == CitationCheck(sentences=2, supported=2, markers=2, valid=2, problems=())


def test_citation_precision_fails_a_sentence_not_in_the_passage_it_cites() -> None:
    answer = "Redness is normal for a day or two. [2] Apply a gentle moisturizer. [1] Ice is great. [1] No source."
    check = check_citations(answer, {1: SOURCE_1, 2: SOURCE_2})
    assert (check.sentences, check.supported) == (4, 1)
    assert (check.markers, check.valid) == (3, 3)
    assert any("Ice is great." in p for p in check.problems)
    assert any("no citation" in p for p in check.problems)


def test_citation_validity_fails_a_marker_with_no_listed_source() -> None:
    check = check_citations("Apply a gentle moisturizer. [1][3]", {1: SOURCE_1})
    assert (check.markers, check.valid, check.sentences, check.supported) == (2, 1, 1, 1)
    assert "[3] is not a listed source" in check.problems


def test_summarize_answers_and_abstention_on_hand_built_observations() -> None:
    gold = ["Redness is normal for a day or two."]
    good = Observation(case(gold=gold), seconds=0.01, relevance=(True,), n_relevant=1, answered=True, covered=True,
                       citations=CitationCheck(2, 2, 2, 2), answer_chars=80)
    late = Observation(case(gold=gold), seconds=0.02, relevance=(False, False, True), n_relevant=1, answered=True,
                       covered=False, citations=CitationCheck(2, 1, 2, 1), answer_chars=40)
    abstained = Observation(case(gold=gold), seconds=0.03, relevance=(), answered=True, abstained=True)
    out_ok = Observation(case(expect="abstain"), seconds=0.04, answered=True, abstained=True)
    refuse_ok = Observation(case(expect="refuse"), seconds=0.05, answered=True, refused=True)
    refuse_bad = Observation(case(expect="refuse"), seconds=0.06, answered=True)
    metrics, details = summarize([good, late, abstained, out_ok, refuse_ok, refuse_bad])
    assert metrics["retrieval.recall@1"] == pytest.approx(1 / 3)
    assert metrics["retrieval.recall@3"] == pytest.approx(2 / 3)
    assert metrics["retrieval.mrr"] == pytest.approx((1 + 1 / 3) / 3)
    assert metrics["answers.coverage"] == pytest.approx(1 / 3)
    assert metrics["answers.citation_precision"] == 0.75  # 3 of 4 sentences, abstentions not counted
    assert metrics["answers.citation_validity"] == 0.75
    assert metrics["answers.chars_mean"] == 60
    assert metrics["abstention.false_abstention"] == pytest.approx(1 / 3)
    assert metrics["abstention.recall"] == pytest.approx(2 / 3)
    assert metrics["abstention.recall_abstain"] == 1.0
    assert metrics["abstention.recall_refuse"] == 0.5
    assert metrics["latency.p50_ms"] == pytest.approx(35.0)
    assert metrics["triage.under_triage"] is None  # nothing measured, nothing gated
    assert details["recall_curve"]["3"] == pytest.approx(2 / 3)


def test_declining_is_abstaining_or_refusing() -> None:
    assert abstained_as_expected("abstain", abstained=True, refused=False)
    assert abstained_as_expected("abstain", abstained=False, refused=True)
    assert abstained_as_expected("refuse", abstained=True, refused=False)
    assert not abstained_as_expected("refuse", abstained=False, refused=False)


def test_refusal_rate_counts_refusals_only() -> None:
    from assistant.evaluation.metrics import summarize
    from assistant.evaluation.suites import Case

    cases = [Case(f"r{i}", "s", ("abstention",), "q", expect="refuse") for i in range(2)]
    obs = [Observation(case=cases[0], answered=True, refused=True), Observation(case=cases[1], answered=True, abstained=True)]
    metrics, _ = summarize(obs)
    assert metrics["abstention.recall"] == 1.0 and metrics["abstention.refusal_rate"] == 0.5


def test_conversation_cases_are_scored_apart_from_single_turn_ones() -> None:
    history = [{"role": "user", "content": "i got pimples"}, {"role": "assistant", "content": "They are normal."}]
    conv = case(gold=["A."], history=history)
    metrics, _ = summarize([Observation(conv, relevance=(False, True), answered=True, covered=True)])
    assert metrics["conversation.recall@1"] == 0.0
    assert metrics["conversation.recall@3"] == 1.0
    assert metrics["conversation.coverage"] == 1.0
    assert metrics["retrieval.recall@5"] is None


def test_percentile_interpolates() -> None:
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([5], 95) == 5
    assert percentile([], 50) is None


# --- triage metrics ----------------------------------------------------------------------

def test_triage_confusion_recall_precision_under_and_over_triage() -> None:
    pairs = [
        ("emergency", "emergency"), ("emergency", "urgent"),   # one under-triaged
        ("urgent", "urgent"), ("urgent", "emergency"),         # escalating further is not under-triage
        ("none", "none"), ("none", "none"), ("none", "none"), ("none", "urgent"),  # one over-triaged
    ]
    scores = triage_scores(pairs)
    assert scores["triage.recall.emergency"] == 0.5
    assert scores["triage.recall.urgent"] == 0.5
    assert scores["triage.recall.none"] == 0.75
    assert scores["triage.precision.emergency"] == 0.5
    assert scores["triage.precision.urgent"] == pytest.approx(1 / 3)
    assert scores["triage.precision.none"] == 1.0
    assert scores["triage.under_triage"] == 0.25
    assert scores["triage.over_triage"] == 0.25
    assert scores["triage.accuracy"] == 0.625
    table = confusion(pairs)
    assert table["emergency"] == {"emergency": 1, "urgent": 1, "none": 0}
    assert table["none"]["urgent"] == 1


def test_a_triage_case_that_crashed_counts_as_not_escalated() -> None:
    obs = Observation(case("triage", message="fever", level="urgent"), failures=("crashed",))
    assert summarize([obs])[0]["triage.under_triage"] == 1.0


# --- suites ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("fields", "suite", "kinds"),
    [
        ({"question": "q", "gold": ["A."], "expect": "answer"}, "questions", ("retrieval", "answers")),
        ({"question": "q", "gold": ["A."]}, "mine", ("retrieval", "answers")),
        ({"question": "q", "expect": "abstain"}, "out", ("abstention",)),
        ({"question": "q", "expect": "refuse"}, "out", ("abstention",)),
        ({"question": "q", "gold": ["A."], "history": [{"role": "user", "content": "x"}]}, "c", ("conversation",)),
        ({"message": "m", "level": "urgent"}, "triage", ("triage",)),
        ({"message": "m", "level": "urgent"}, "robustness_extra", ("robustness",)),
        ({"question": "q", "robust": True, "gold": ["A."]}, "questions", ("robustness",)),
        ({"question": "q"}, "questions", ()),
    ],
)
def test_kind_inference_rule(fields, suite, kinds) -> None:
    assert kinds_of(fields, suite) == kinds


def test_discover_reads_every_jsonl_and_infers_suite_kinds(tmp_path: Path) -> None:
    (tmp_path / "qs.jsonl").write_text(
        json.dumps({"id": "a", "question": "q", "gold": ["A."], "split": "test"}) + "\n\n"
        + json.dumps({"id": "b", "question": "q", "expect": "abstain", "split": "tune"}) + "\n"
    )
    (tmp_path / "robustness.jsonl").write_text(json.dumps({"id": "r", "generate": {"repeat": "ab", "times": 3}}) + "\n")
    (tmp_path / "notes.md").write_text("ignored")
    suites = discover(tmp_path)
    assert [s.name for s in suites] == ["qs", "robustness"]
    assert suites[0].kinds == ("retrieval", "answers", "abstention")
    assert [c.id for c in suites[0].in_split("test").cases] == ["a"]
    assert [c.line for c in suites[0].cases] == [1, 3]
    assert suites[1].cases[0].question == "ababab"
    assert len(suites[1].in_split("test").cases) == 1  # no split: in every split
    assert [s.name for s in select(suites, ["robust*"])] == ["robustness"]
    with pytest.raises(ConfigError, match="Available: qs, robustness"):
        select(suites, ["nope"])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "b", "question": "q", "gold": ["A."]', "not valid JSON"),
        ('{"id": "b", "question": "q", "expect": "maybe"}', '"expect" must be one of'),
        ('{"id": "b", "question": "q"}', "cannot tell what to score"),
        ('{"id": "a", "question": "q", "gold": ["A."]}', "already used on line 1"),
        ('{"id": "b", "message": "m", "level": "severe"}', '"level" must be one of'),
        ('["not", "an", "object"]', "expected a JSON object"),
    ],
)
def test_a_malformed_line_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "a", "question": "q", "gold": ["A."]}) + "\n" + line + "\n")
    with pytest.raises(DataFileError) as err:
        load_suite(path)
    assert f"{path}, line 2" in str(err.value)
    assert message in str(err.value)


def test_the_shipped_suites_load() -> None:
    suites = {s.name: s for s in discover(EVALS)}
    assert suites["questions"].kinds == ("retrieval", "answers")
    assert suites["out_of_scope"].kinds == ("abstention",)
    assert suites["conversations"].kinds == ("conversation",)
    assert suites["robustness"].kinds == ("robustness",)
    assert len(suites["robustness"].cases) >= 30
    long = [c for c in suites["robustness"].cases if len(c.question) >= 20_000]
    assert long and all(c.level for c in long if "fever" in c.question)


def test_shipped_cases_follow_the_split_rule() -> None:
    """Line n (= the id's number) is tune when (n - 1) % 5 is 0 or 1, else test
    (evals/README.md); o079-o088 are the documented exception, all tune."""
    exceptions = {f"o{n:03d}" for n in range(79, 89)}
    for name in ("questions", "out_of_scope", "conversations"):
        lines = (EVALS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        for n, case in enumerate((json.loads(x) for x in lines if x.strip()), start=1):
            assert int(case["id"][1:]) == n, (name, n)
            expected = "tune" if (n - 1) % 5 in (0, 1) or case["id"] in exceptions else "test"
            assert case["split"] == expected, case["id"]


def test_generator_spec() -> None:
    assert generate({"repeat": "ab ", "times": 2}) == "ab ab "
    assert generate({"repeat": "x", "times": 4, "insert": "!", "at": 1.0}) == "xxxx!"
    with pytest.raises(ValueError):
        generate({"repeat": "x"})


def test_printable_escapes_invisible_characters() -> None:
    assert printable("a\x00b\u202e", 50) == "a\\u0000b\\u202e"
    assert printable("x" * 30, 10).endswith("(30 characters)")


# --- thresholds --------------------------------------------------------------------------

def write_thresholds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return path


def test_thresholds_specific_tables_override_general_ones(tmp_path: Path) -> None:
    path = write_thresholds(tmp_path, """
["*"]
"retrieval.mrr" = { min = 0.5 }
"triage.over_triage" = { max = 0.1 }
[hybrid]
"retrieval.mrr" = { min = 0.85 }
["hybrid+extractive"]
"retrieval.mrr" = { min = 0.9 }
""")
    t = Thresholds.from_file(path)
    assert t.for_config("bm25", "bm25")["retrieval.mrr"].min == 0.5
    assert t.for_config("hybrid", "hybrid")["retrieval.mrr"].min == 0.85
    assert t.for_config("hybrid+extractive", "hybrid")["retrieval.mrr"].min == 0.9
    checks = t.check([("hybrid", "hybrid", {"retrieval.mrr": 0.84, "triage.over_triage": 0.1})])
    failed = [c for c in checks if c.failed]
    assert [(c.metric, c.status) for c in failed] == [("retrieval.mrr", "below")]
    assert "retrieval.mrr [hybrid] = 0.8400: below threshold 0.85" in failed[0].describe()
    unmeasured = t.check([("dense", "dense", {"retrieval.mrr": None})])
    assert {c.status for c in unmeasured} == {"not measured"} and not any(c.failed for c in unmeasured)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["*"]\n"retrieval.recall@55" = { min = 1 }', "Did you mean 'retrieval.recall@5'"),
        ('["*"]\n"retrieval.mrr" = 0.9', "write a bound as"),
        ('["*"]\n"retrieval.mrr" = { least = 0.9 }', "write a bound as"),
        ('["*"\n', "not valid TOML"),
    ],
)
def test_malformed_thresholds_say_what_to_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataFileError, match=message.replace("(", r"\(")):
        Thresholds.from_file(write_thresholds(tmp_path, text))


def test_the_shipped_thresholds_are_the_real_targets() -> None:
    t = Thresholds.from_file(EVALS / "thresholds.toml")
    hybrid = t.for_config("hybrid", "hybrid")
    assert hybrid["retrieval.recall@5"].min == 0.95
    assert hybrid["retrieval.mrr"].min == 0.85
    assert hybrid["answers.coverage"].min == 0.90
    assert hybrid["answers.citation_precision"].min == 1.0
    assert hybrid["answers.citation_validity"].min == 1.0
    assert hybrid["abstention.recall"].min == 0.95
    assert hybrid["abstention.refusal_rate"].min == 0.95 and hybrid["abstention.false_refusal"].max == 0.0
    assert hybrid["abstention.false_abstention"].max == 0.05
    assert hybrid["triage.recall.emergency"].min == hybrid["triage.recall.urgent"].min == 1.0
    assert hybrid["triage.under_triage"].max == 0.0
    assert hybrid["triage.over_triage"].max == 0.10
    assert hybrid["robustness.pass_rate"].min == 1.0
    assert set(hybrid) <= set(known_metrics())
    # Safety and faithfulness are never waived as known gaps.
    for metric, bound in hybrid.items():
        if metric.startswith(("triage.", "robustness.", "answers.citation", "conversation.citation")):
            assert bound.known_gap is None, metric


def test_a_known_gap_is_reported_but_does_not_block(tmp_path: Path) -> None:
    path = write_thresholds(tmp_path, """
[hybrid]
"retrieval.mrr" = { min = 0.85, known_gap = "tuning continues" }
"triage.under_triage" = { max = 0.0 }
""")
    checks = Thresholds.from_file(path).check([("hybrid", "hybrid", {"retrieval.mrr": 0.7, "triage.under_triage": 0.0})])
    mrr = next(c for c in checks if c.metric == "retrieval.mrr")
    assert mrr.failed and not mrr.blocking
    assert "known gap: tuning continues" in mrr.describe()
    assert not any(c.blocking for c in checks)
    under = Thresholds.from_file(path).check([("hybrid", "hybrid", {"retrieval.mrr": 0.9, "triage.under_triage": 0.01})])
    assert [c.metric for c in under if c.blocking] == ["triage.under_triage"]
    with pytest.raises(DataFileError, match="known_gap"):
        Thresholds.from_file(write_thresholds(tmp_path, '[hybrid]\n"retrieval.mrr" = { known_gap = "x" }'))


# --- --against ---------------------------------------------------------------------------

def small_report(metrics: dict, cases: list[tuple[str, bool]], version: str = "v1") -> dict:
    return {
        "split": "test", "corpus": {"version": version},
        "configurations": {"hybrid": {"metrics": metrics,
                                      "cases": [{"suite": "questions", "id": i, "passed": p} for i, p in cases]}},
    }


def test_against_lists_better_and_worse_metrics_and_flipped_cases(tmp_path: Path) -> None:
    old = small_report({"retrieval.mrr": 0.8, "triage.under_triage": 0.0, "answers.chars_mean": 100.0,
                        "latency.p50_ms": 10.0, "answers.coverage": 0.9},
                       [("q1", True), ("q2", False), ("q3", True)])
    new = small_report({"retrieval.mrr": 0.9, "triage.under_triage": 0.05, "answers.chars_mean": 140.0,
                        "latency.p50_ms": 11.0, "answers.coverage": 0.9},
                       [("q1", False), ("q2", True), ("q3", True), ("q4", False)], version="v2")
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "report.json").write_text(json.dumps(new))
    diff = compare(load_report(tmp_path / "old.json"), load_report(tmp_path / "new"))
    assert [c.metric for c in diff.better] == ["retrieval.mrr"]
    assert [c.metric for c in diff.worse] == ["triage.under_triage"]  # length is neutral
    assert diff.latency == ()  # +10 % is noise
    assert diff.newly_failing == ("questions/q1 [hybrid]",)
    assert diff.newly_passing == ("questions/q2 [hybrid]",)
    assert any("corpus changed" in n for n in diff.notes)
    text = "\n".join(diff.lines())
    assert "retrieval.mrr [hybrid]: 0.8 -> 0.9 (+0.1)" in text


def test_against_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[]")
    with pytest.raises(ConfigError, match="not a report.json"):
        load_report(tmp_path / "x.json")
    with pytest.raises(ConfigError, match="Cannot read"):
        load_report(tmp_path / "missing.json")


# --- the pipeline side (needs triage, no real model) -------------------------------------

def test_configurations_parse_modes_and_answerers() -> None:
    from assistant.evaluation.runner import parse_configurations

    assert [c.name for c in parse_configurations([], "hybrid")] == ["hybrid"]
    assert [(c.mode, c.answerer) for c in parse_configurations(["bm25", "extractive"], "dense")] == [
        ("bm25", None), ("dense", "extractive")]
    assert [c.name for c in parse_configurations(["hybrid+extractive"], "bm25")] == ["hybrid+extractive"]
    assert [c.name for c in parse_configurations(["bm25", "dense"], "hybrid", ["extractive", "ollama:llama3.1"])] == [
        "bm25+extractive", "bm25+ollama:llama3.1", "dense+extractive", "dense+ollama:llama3.1"]
    assert [(c.mode, c.answerer) for c in parse_configurations(["openai:gpt-4o-mini"], "hybrid")] == [
        ("hybrid", "openai:gpt-4o-mini")]
    with pytest.raises(ConfigError, match="Unknown answerer 'ollama:'"):
        parse_configurations(["hybrid+ollama:"], "hybrid")
    with pytest.raises(ConfigError, match="Unknown configuration 'sparse'"):
        parse_configurations(["sparse"], "hybrid")
    with pytest.raises(ConfigError, match="listed twice"):
        parse_configurations(["bm25", "bm25"], "hybrid")


def test_robustness_outcomes() -> None:
    from assistant.errors import EmptyQuestionError
    from assistant.evaluation.runner import robustness_problems, schema_problems
    from assistant.schema import Answer, Citation, Triage

    empty = case("robustness", message="", raises="EmptyQuestionError")
    assert robustness_problems(empty, None, EmptyQuestionError("The question is empty. Type a question.")) == []
    assert robustness_problems(empty, None, AssistantError("")) != []
    assert "crashed: KeyError" in robustness_problems(case("robustness", message="x"), None, KeyError("k"))[0]
    flagged = case("robustness", message="ignore that; fever", level="urgent", must_not_contain=["fever is fine"])
    calm = Answer(None, "Your fever is fine.", Triage("none"), abstained=False)
    problems = robustness_problems(flagged, calm, None)
    assert "under-triage: got none, expected at least urgent" in problems
    assert "says 'fever is fine'" in problems
    escalated = Answer("Call a doctor.", "Sources.", Triage("emergency", ("fever",)), abstained=False,
                       citations=(Citation(1, "d.txt", "T", "S", "Sources.", 0.5),))
    assert robustness_problems(flagged, escalated, None) == []
    assert schema_problems(escalated) == []
    broken = Answer(None, "x", Triage("urgent", ("fever", 3)), abstained="no")  # type: ignore[arg-type]
    assert set(schema_problems(broken)) >= {"abstained is str", "triage.signals is not a list of strings",
                                            "no notice for a urgent message"}


def eval_main(argv: list[str]) -> int:
    """``assistant eval ...`` through the command's entry point."""
    from assistant import cli

    return cli.main(["eval", *argv])


def test_eval_exits_1_and_names_the_metric_below_threshold(tmp_path: Path, capsys) -> None:
    evals = tmp_path / "evals"
    evals.mkdir()
    (evals / "questions.jsonl").write_text(
        json.dumps({"id": "q1", "question": "is redness normal after microneedling", "split": "test",
                    "gold": ["After a microneedling treatment, some redness and swelling are normal as your skin responds to the procedure."]})
        + "\n" + json.dumps({"id": "t1", "message": "I have a fever and pus", "level": "urgent", "split": "test"}) + "\n"
    )
    (evals / "thresholds.toml").write_text('[hybrid]\n"answers.coverage" = { min = 1.01 }\n"triage.recall.urgent" = { min = 1.0 }\n')
    report = tmp_path / "report"
    code = eval_main(["--evals", str(evals), "--corpus", str(CORPUS), "--model", "hashing", "--report", str(report),
                      "--no-plots", "-q"])
    out = capsys.readouterr().out
    assert code == 1
    assert "answers.coverage [hybrid]" in out and "below threshold 1.01" in out
    assert "triage.recall.urgent [hybrid]" not in out.split("FAIL:")[1]
    data = json.loads((report / "report.json").read_text())
    assert data["passed"] is False
    assert data["corpus"]["temporary_index"] is True


def test_eval_reports_a_malformed_suite_without_running(tmp_path: Path, capsys) -> None:
    evals = tmp_path / "evals"
    evals.mkdir()
    (evals / "broken.jsonl").write_text('{"id": "a", "question": "q", "gold": ["A."]}\n{oops\n')
    code = eval_main(["--evals", str(evals), "--model", "hashing", "-q"])
    assert code == DataFileError.exit_code
    captured = capsys.readouterr()
    assert "broken.jsonl, line 2: not valid JSON" in captured.out + captured.err


# --- the real thing ----------------------------------------------------------------------

@pytest.mark.integration
def test_eval_on_the_real_corpus_and_model(tmp_path: Path, capsys) -> None:
    """The whole command on the real corpus and model. The suites are every few lines of the real
    ones so the test stays well under 90 s (about 25 s on an idle 2-CPU machine)."""
    evals = tmp_path / "evals"
    evals.mkdir()
    main_index = ROOT / ".assistant" / "index" / "manifest.json"
    before = main_index.stat().st_mtime_ns if main_index.exists() else None
    for name, step in (("questions", 7), ("triage", 13), ("robustness", 5), ("out_of_scope", 7)):  # 7: both splits
        lines = (EVALS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        (evals / f"{name}.jsonl").write_text("\n".join(lines[::step]) + "\n", encoding="utf-8")
    (evals / "thresholds.toml").write_text((EVALS / "thresholds.toml").read_text())
    report = tmp_path / "report"
    code = eval_main(["--corpus", str(CORPUS), "--evals", str(evals), "--suite", "questions,triage,robustness",
                      "--modes", "bm25,hybrid", "--report", str(report), "-q"])
    out = capsys.readouterr().out
    assert code in (0, 1), out  # 1 is a missed threshold, which is a result, not an error
    for name in ("report.json", "report.md", "recall_at_k.png", "triage_tiers.png", "latency.png"):
        assert (report / name).stat().st_size > 0, name
    data = json.loads((report / "report.json").read_text())
    from assistant.config import DEFAULT_MODEL

    assert data["corpus"]["version"] and data["corpus"]["model"] == DEFAULT_MODEL
    assert data["corpus"]["temporary_index"] is True
    assert data["packages"]["torch"] and data["split"] == "test"
    assert [s["name"] for s in data["suites"]] == ["questions", "robustness", "triage"]
    assert set(data["configurations"]) == {"bm25", "hybrid"}
    hybrid = data["configurations"]["hybrid"]["metrics"]
    assert 0.5 < hybrid["retrieval.recall@5"] <= 1.0
    assert hybrid["robustness.pass_rate"] is not None and hybrid["triage.recall.emergency"] is not None
    assert hybrid["abstention.recall"] is None  # out_of_scope was not selected
    assert data["timings"]["cold_start_s"] > 0
    assert "retrieval.recall@5" in out and "hybrid" in out
    assert (code == 1) == ("FAIL:" in out)
    markdown = (report / "report.md").read_text()
    assert "## Failed cases" in markdown and data["corpus"]["version"] in markdown
    assert data["corpus"]["index_dir"] is None  # --corpus evaluated a temporary index ...
    assert before == (main_index.stat().st_mtime_ns if main_index.exists() else None)  # ... and left the main one alone
