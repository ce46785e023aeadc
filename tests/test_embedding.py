"""Embedders: model-name resolution never downloads, and the ONNX backend matches torch.

The ONNX tests export the bundled model for real (into a temporary folder, once
per module) and compare it with the same model on torch: they need torch, onnx
and onnxruntime, which CI installs, so they are never skipped.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.index import embedding
from assistant.index.embedding import onnx as onnx_backend
from assistant.index.embedding import (
    HashingEmbedder,
    LazyEmbedder,
    OnnxEmbedder,
    load_embedder,
    resolve_model,
    split_backend,
)
from assistant.errors import ModelUnavailableError

MODEL = "all-MiniLM-L6-v2"
SENTENCES = [
    "Is it normal to be red and swollen two days after microneedling?",
    "I have a fever and pus coming out of my cheek.",
    "Apply a gentle, non-comedogenic moisturiser and avoid makeup for 24 hours.",
    "La peau est rouge et gonflée après le traitement.",
    "ok",
]


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse every connection, and fail the test if one was tried.

    subtle: the refusal alone is not enough, since resolve_model turns any hub
    error into ModelUnavailableError; the attempts are recorded and checked after.
    """
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[1:] or args))
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], "tried to reach the network"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (MODEL, (MODEL, "torch")),
        (f"{MODEL}@onnx", (MODEL, "onnx")),
        (f"{MODEL}@ONNX-int8", (MODEL, "onnx-int8")),
        (f"{MODEL}@torch", (MODEL, "torch")),
        ("/models/me@work", ("/models/me@work", "torch")),  # not a backend: part of the path
        ("@onnx", ("@onnx", "torch")),
    ],
)
def test_split_backend(spec: str, expected: tuple[str, str]) -> None:
    assert split_backend(spec) == expected


def test_bundled_name_resolves_with_or_without_a_backend_suffix() -> None:
    folder = resolve_model(MODEL)
    assert (folder / "config.json").exists()
    assert resolve_model(f"{MODEL}@onnx") == folder
    assert resolve_model(f"sentence-transformers/{MODEL.upper()}") == folder


def test_missing_folder_is_a_clear_error(tmp_path: Path, no_network: list[str]) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_model(str(tmp_path / "no-such-model"))
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_model("./no/such/model@onnx")


def test_folder_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="not a sentence-transformers model folder"):
        resolve_model(str(tmp_path))


@pytest.mark.parametrize("name", ["someone/no-such-model-4f1c", "no-such-model-4f1c", "someone/no-such-model-4f1c@onnx"])
def test_unknown_hub_name_is_an_error_never_a_download(name: str, no_network: list[str]) -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        resolve_model(name)
    message = str(caught.value)
    assert "not on this machine" in message and "never downloaded" in message
    assert "--model" in message  # says what to do next


def test_load_embedder_routes_by_name(tmp_path: Path) -> None:
    assert isinstance(load_embedder("hashing"), HashingEmbedder)
    assert load_embedder("hashing-64").dim == 64
    lazy = LazyEmbedder(f"{MODEL}@onnx")
    assert lazy._inner is None  # nothing loaded until used
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_embedder(str(tmp_path / "missing@onnx-int8"))
    with pytest.raises(ModelUnavailableError, match="ONNX backend"):
        OnnxEmbedder(MODEL)  # no suffix: the caller meant torch


def test_cache_folder_is_named_after_the_model_and_changes_with_it(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    first = embedding.onnx_cache_folder(model, tmp_path / "cache")
    assert first.parent == tmp_path / "cache" and first.name.startswith("my-model-")
    assert embedding.onnx_cache_folder(model, tmp_path / "cache") == first
    (model / "config.json").write_text('{"changed": true}')
    assert embedding.onnx_cache_folder(model, tmp_path / "cache") != first


# ---------------------------------------------------------------- the ONNX backend, for real

@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_embedder() -> Any:
    """The bundled model on torch, whatever the default backend is: the reference."""
    embedder = load_embedder(f"{MODEL}@torch")
    assert not isinstance(embedder, OnnxEmbedder)
    return embedder


@pytest.fixture(scope="module")
def onnx_embedders(onnx_cache: Path) -> dict[str, OnnxEmbedder]:
    return {
        backend: OnnxEmbedder(f"{MODEL}@{backend}", cache_dir=onnx_cache)
        for backend in ("onnx", "onnx-int8")
    }


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    return (np.asarray(a) * np.asarray(b)).sum(axis=1)


@pytest.mark.integration
def test_onnx_vectors_match_torch(onnx_embedders: dict[str, OnnxEmbedder], torch_embedder: Any) -> None:
    torch_vectors = torch_embedder.embed_documents(SENTENCES)
    onnx_vectors = onnx_embedders["onnx"].embed_documents(SENTENCES)
    assert np.asarray(onnx_vectors).shape == (len(SENTENCES), 384)
    assert cosines(onnx_vectors, torch_vectors).min() >= 0.99
    one = onnx_embedders["onnx"].embed_query(SENTENCES[0])
    assert float(np.dot(one, torch_vectors[0])) >= 0.99
    assert abs(float(np.linalg.norm(one)) - 1.0) < 1e-4  # normalised, like the torch embedder


@pytest.mark.integration
def test_onnx_int8_vectors_stay_close_to_torch(onnx_embedders: dict[str, OnnxEmbedder], torch_embedder: Any) -> None:
    # Quantised weights move vectors a little (about 0.99 cosine); the eval suite decides if rankings suffer.
    got = cosines(onnx_embedders["onnx-int8"].embed_documents(SENTENCES), torch_embedder.embed_documents(SENTENCES))
    assert got.min() >= 0.95 and got.mean() >= 0.98


@pytest.mark.integration
def test_onnx_batches_give_the_same_vectors_as_single_texts(onnx_embedders: dict[str, OnnxEmbedder]) -> None:
    e = onnx_embedders["onnx"]
    e.batch_size = 2  # several batches, padded to different lengths, returned in input order
    batched = e.embed_documents(SENTENCES + ["Swelling " * 400])
    single = [e.embed_query(t) for t in SENTENCES + ["Swelling " * 400]]
    assert cosines(batched, single).min() >= 0.9999
    assert e.embed_documents([]) == []
    assert len(e.embed_query("fever \ud800 and pus\x00")) == 384  # what JSON input can carry


@pytest.mark.integration
def test_onnx_export_is_cached_and_reused(onnx_embedders: dict[str, OnnxEmbedder], onnx_cache: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = onnx_embedders["onnx"].folder
    assert folder.parent == onnx_cache
    assert {p.name for p in folder.iterdir()} >= {"model.onnx", "model-int8.onnx", "tokenizer.json", "export.json"}
    assert not list(folder.glob(".*.tmp"))  # no half-written files left behind

    def no_export(*args: object, **kwargs: object) -> None:
        raise AssertionError("exported again instead of using the cache")

    monkeypatch.setattr(onnx_backend, "_export_fp32", no_export)
    monkeypatch.setattr(onnx_backend, "_quantize", no_export)
    again = load_embedder(f"{MODEL}@onnx-int8", cache_dir=onnx_cache)
    assert isinstance(again, OnnxEmbedder) and again.name == f"{MODEL}@onnx-int8"
    assert len(again.embed_query("redness")) == 384

