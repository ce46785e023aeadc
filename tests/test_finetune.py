"""The patient-wording model: training data, the real training loop on a tiny model built
here, caching by fingerprint, index rebuilds when it changes, and its effect with the real
model on the real labelled questions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.index.embedding import finetune
from assistant.errors import ConfigError, DataFileError, ModelUnavailableError
from assistant.index.embedding.finetune import (
    TrainingQuestion,
    fine_tune,
    fingerprint,
    read_training,
    tuned_model,
)

ITEMS = [
    TrainingQuestion("my face is still red on day three", ("Redness that lasts more than two days is a warning sign.",)),
    TrainingQuestion("tiny bumps popped up everywhere", ("Small pimples can appear after treatment.",)),
    TrainingQuestion("it is hot and swollen and oozing", ("Pus and warmth can be signs of infection.",
                                                          "Swelling that gets worse needs a practitioner.")),
    TrainingQuestion("can I wear makeup tomorrow", ("Avoid makeup for at least a day.",)),
]


def write_questions(path: Path, items: list[TrainingQuestion]) -> Path:
    """A training file in the packaged format."""
    path.write_text("".join(json.dumps({"question": i.question, "gold": list(i.gold)}) + "\n" for i in items),
                    encoding="utf-8")
    return path


def case(question: str, gold: list[str], split: str = "tune", **extra) -> dict:
    return {"id": f"q-{question}", "question": question, "gold": gold, "expect": "answer", "split": split, **extra}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A one-layer BERT with random weights and a word-level vocabulary, as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-embedder")
    words = sorted({w for item in ITEMS for text in (item.question, *item.gold) for w in text.lower().split()})
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]), encoding="utf-8")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder / "hf")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(folder / "hf")
    model = SentenceTransformer(modules=[models.Transformer(str(folder / "hf")), models.Pooling(32)], device="cpu")
    model.save(str(folder / "st"))
    return folder / "st"


def vectors(folder: Path, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu").encode(texts, normalize_embeddings=True)


# --- training data ----------------------------------------------------------------------------


def test_only_answerable_single_turn_tune_questions_are_trained_on(tmp_path) -> None:
    from assistant.evaluation.training import training_questions

    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in [
        case("kept", ["A."]),
        case("held back", ["B."], split="test"),
        case("follow-up", ["C."], history=[{"role": "user", "content": "hi"}]),
        {"id": "o1", "question": "out of scope", "expect": "abstain", "split": "tune"},
        case("second kept", ["B."]),
    ]), encoding="utf-8")
    assert training_questions(path) == [TrainingQuestion("kept", ("A.",)), TrainingQuestion("second kept", ("B.",))]


def test_bad_training_files_say_what_to_do(tmp_path) -> None:
    with pytest.raises(ModelUnavailableError, match="all-MiniLM-L6-v2@onnx"):
        read_training(tmp_path / "missing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"question": "ok", "gold": ["A."]}) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="line 2"):
        read_training(broken)
    with pytest.raises(DataFileError, match="too few"):
        read_training(write_questions(tmp_path / "one.jsonl", [TrainingQuestion("q", ("A.",))]))


def test_the_fingerprint_follows_the_questions_and_the_recipe(tmp_path, monkeypatch) -> None:
    path = write_questions(tmp_path / "q.jsonl", [TrainingQuestion("one", ("A.",)), TrainingQuestion("two", ("B.",))])
    first = fingerprint(path)
    assert fingerprint(path) == first
    write_questions(path, [TrainingQuestion("one", ("A.",)), TrainingQuestion("two, reworded", ("B.",))])
    second = fingerprint(path)
    assert second != first
    monkeypatch.setitem(finetune.RECIPE, "epochs", 4)
    assert fingerprint(path) != second


# --- the real training loop, on the tiny model ----------------------------------------------------


def test_fine_tune_trains_saves_and_repeats_exactly(tiny_model, tmp_path) -> None:
    losses = fine_tune(tiny_model, ITEMS, tmp_path / "a")
    assert len(losses) == finetune.RECIPE["epochs"] and all(np.isfinite(losses))
    texts = [item.question for item in ITEMS]
    before, after = vectors(tiny_model, texts), vectors(tmp_path / "a", texts)
    assert after.shape == before.shape
    assert not np.allclose(before, after)  # the weights really moved
    fine_tune(tiny_model, ITEMS, tmp_path / "b")
    np.testing.assert_allclose(vectors(tmp_path / "b", texts), after, atol=1e-6)  # seeded: the same model again


def test_tuned_model_is_trained_once_per_fingerprint(tiny_model, tmp_path, monkeypatch) -> None:
    questions = write_questions(tmp_path / "q.jsonl", ITEMS)
    cache = tmp_path / "cache"
    reported: list[tuple[int, int]] = []
    folder = tuned_model(tiny_model, questions, cache, lambda done, total: reported.append((done, total)))
    total = finetune.steps(len(ITEMS))
    assert reported == [(n, total) for n in range(1, total + 1)]  # one line of progress per optimiser step
    assert folder.name == f"{finetune.TUNED_NAME}-{fingerprint(questions)}"
    recorded = json.loads((folder / "training.json").read_text())
    assert recorded["questions"] == len(ITEMS) and recorded["recipe"] == finetune.RECIPE
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no temporary folder left behind

    def no_retraining(*args, **kwargs):
        raise AssertionError("a cached model was trained again")

    monkeypatch.setattr(finetune, "fine_tune", no_retraining)
    assert tuned_model(tiny_model, questions, cache) == folder
    write_questions(questions, [TrainingQuestion(i.question + " please", i.gold) for i in ITEMS])
    with pytest.raises(AssertionError, match="trained again"):
        tuned_model(tiny_model, questions, cache)  # new questions, new model


# --- the index knows which version it was built with ---------------------------------------------


def test_an_index_from_an_earlier_model_version_is_rebuilt_and_refused(hashing_settings, monkeypatch) -> None:
    from assistant.index import ingest as indexing
    from assistant import pipeline
    from assistant.index.embedding import HashingEmbedder
    from assistant.index.ingest import make_plan

    assert make_plan(hashing_settings).is_noop
    monkeypatch.setattr(indexing, "model_version", lambda name: "newer")
    assert not make_plan(hashing_settings).is_noop  # ingest would rebuild
    with pytest.raises(ConfigError, match="assistant ingest"):
        pipeline.Assistant.load(hashing_settings, HashingEmbedder())


# --- the real model on the real labelled questions ----------------------------------------------


def test_the_default_model_is_the_patient_wording_model_and_ranks_answers_higher(real_embedder) -> None:
    from assistant.config import DEFAULT_MODEL
    from assistant.index.embedding import load_embedder, resolve_model

    assert DEFAULT_MODEL.lower().startswith(finetune.TUNED_NAME)
    folder = resolve_model(DEFAULT_MODEL.split("@")[0])
    assert folder.name == f"{finetune.TUNED_NAME}-{fingerprint(finetune.TRAINING_FILE)}"
    items = read_training(finetune.TRAINING_FILE)
    sentences = sorted({g for item in items for g in item.gold})

    def mean_rank(embedder) -> float:
        q = np.asarray(embedder.embed_documents([item.question for item in items]))
        s = np.asarray(embedder.embed_documents(sentences))
        scores = q @ s.T
        ranks = [1 + int(np.sum(row > max(row[sentences.index(g)] for g in item.gold)))
                 for row, item in zip(scores, items)]
        return float(np.mean(ranks))

    tuned, bundled = mean_rank(real_embedder), mean_rank(load_embedder("all-MiniLM-L6-v2@onnx"))
    assert tuned < bundled / 2, (tuned, bundled)  # trained on these: the answers come far nearer the top
