"""The ONNX backend: the local model exported once to ONNX (optionally with int8 weights),
checked against torch, cached, and run with onnxruntime and tokenizers alone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import uuid
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import ModelUnavailableError
from assistant.home import Home
from assistant.index.embedding.names import resolve_model, split_backend
from assistant.text import safe_text

__all__ = ["ONNX_EXPORT_VERSION", "ONNX_FILES", "OnnxEmbedder", "export_onnx", "needs_export", "onnx_cache_folder"]

# Bump when the export or quantisation recipe changes: it forces a fresh export. 2: torch.export's
# exporter (dynamo=True, opset 18) replaced the deprecated TorchScript one.
ONNX_EXPORT_VERSION = 2


class OnnxEmbedder(Embeddings):
    """A sentence-transformers model exported to ONNX, run with onnxruntime (``NAME@onnx``).

    The first use of a model exports it (a few seconds, needs torch and
    ``onnx``); later loads read the cached export and never import torch.
    ``NAME@onnx-int8`` adds dynamic int8 quantisation of the weights.

    >>> OnnxEmbedder("all-MiniLM-L6-v2@onnx").embed_query("redness")[:2]  # doctest: +SKIP
    [0.01..., -0.03...]
    """

    def __init__(self, name: str, cache_dir: Path | None = None, batch_size: int = 32,
                 home: Path | None = None) -> None:
        base, backend = split_backend(name)
        if backend not in ("onnx", "onnx-int8"):
            raise ModelUnavailableError(f"{name!r} names no ONNX backend; add @onnx or @onnx-int8 to the model name.")
        folder = export_onnx(resolve_model(base, home), cache_dir or Home.of(home).onnx,
                             quantize=backend == "onnx-int8", label=base)
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both come with chromadb and transformers
            raise ModelUnavailableError("onnxruntime or tokenizers is missing; run `make install`.") from exc
        meta = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # initializer warnings on every load are noise
        # subtle: idle onnxruntime threads spin by default, which on a small shared
        # machine (the app's web threads, chroma, other processes) doubled query latency.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(folder / ONNX_FILES[backend]), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # subtle: a saved tokenizer.json may carry fixed-length padding and a shorter
        # truncation; sentence-transformers pads to the longest text and cuts at max_seq_length.
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self.batch_size = batch_size
        self.dimension = int(meta["dimension"])
        self.folder = folder
        self.name = name

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch([safe_text(t) for t in texts])  # lone surrogates would raise
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
        return self._session.run(None, feed)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # Batches of similar length waste less work on padding (sentence-transformers does the same).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i in range(0, len(order), self.batch_size):
            rows = order[i : i + self.batch_size]
            out[rows] = self._encode([texts[r] for r in rows])
        return out.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()


ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}
# Texts of different lengths, batched with padding: an export must reproduce torch on them.
_PROBES = (
    "Is redness normal two days after treatment?",
    "I have a fever and pus.",
    "Swelling " * 300,
    "x",
)


def onnx_cache_folder(model_dir: Path, cache_dir: Path | None = None, label: str | None = None) -> Path:
    """Where the export of ``model_dir`` lives: ``<cache>/<label>-<fingerprint>``.

    The fingerprint covers the model files' names, sizes and modification
    times and the export recipe, so a changed model gets a fresh export.
    """
    digest = hashlib.sha256(f"v{ONNX_EXPORT_VERSION}".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(label or model_dir.name).name).strip("-.") or "model"
    return (cache_dir or Home.of(None).onnx).expanduser() / f"{stem}-{digest.hexdigest()[:12]}"


def export_onnx(model_dir: Path, cache_dir: Path | None = None, quantize: bool = False, label: str | None = None) -> Path:
    """Export ``model_dir`` to ONNX (and int8 when ``quantize``) once; return the cache folder.

    Files are written under temporary names and renamed into place, so two
    processes exporting at once both end with a complete export.
    """
    folder = onnx_cache_folder(model_dir, cache_dir, label)
    if not (folder / ONNX_FILES["onnx"]).exists() or not (folder / "export.json").exists():
        _export_fp32(model_dir, folder)
    if quantize and not (folder / ONNX_FILES["onnx-int8"]).exists():
        _quantize(folder)
    return folder


# Two warnings the exporter gives on every export of this model, about torch's own internals
# and not about anything a user can change; every other warning is shown.
_EXPORT_NOISE = (
    (UserWarning, r"# The axis name: \w+ will not be used, since it shares the same shape constraints"),
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the weights bar, the log lines of the exporter and the quantiser (absent
    torchvision ops, "consider pre-processing"), and the two known export warnings: a
    one-off export should not look like a failure. Errors still raise."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        pass
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for category, message in _EXPORT_NOISE:
                warnings.filterwarnings("ignore", message=message, category=category)
            yield
    finally:
        logging.disable(logging.NOTSET)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")


def _export_fp32(model_dir: Path, folder: Path) -> None:
    try:
        import onnx  # noqa: F401 - torch's exporter needs it and onnxscript; fail here with a hint instead
        import onnxscript  # noqa: F401
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelUnavailableError(
            f"Exporting the model to ONNX needs torch and the onnx package ({exc.name} is missing). "
            "Run `pip install onnx onnxscript`, or drop @onnx from --model."
        ) from exc
    try:
        with _quiet():
            model = SentenceTransformer(
                str(model_dir), device="cpu", model_kwargs={"attn_implementation": "eager"}
            ).eval()
    except Exception as exc:
        raise ModelUnavailableError(f"Could not load the embedding model from {model_dir} to export it: {exc}.") from exc
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise ModelUnavailableError(f"{model_dir} has no fast tokenizer, so it cannot run on ONNX; drop @onnx from --model.")
    probe = tokenizer(list(_PROBES[:2]), padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in probe]

    class Wrapped(torch.nn.Module):
        """Tensors in, normalised sentence vectors out: tokenisation stays outside the graph."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        # Named arguments, not *tensors: torch.export reads the signature to match the dynamic shapes.
        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
            given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            features = {n: given[n] for n in names}
            return torch.nn.functional.normalize(self.model(features)["sentence_embedding"], p=2, dim=1)

    batch, tokens = torch.export.Dim("batch"), torch.export.Dim("tokens")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / ONNX_FILES["onnx"]
    tmp = _temporary(target)
    try:
        with torch.no_grad(), _quiet():
            torch.onnx.export(
                Wrapped().eval(),
                tuple(probe[n] for n in names),
                str(tmp),
                input_names=names,
                output_names=["sentence_embedding"],
                # torch.export's exporter (the supported one; it needs onnxscript). One batch and one
                # token dimension shared by every input, so the graph takes any batch of any length.
                dynamic_shapes={n: {0: batch, 1: tokens} for n in names},
                opset_version=18,
                dynamo=True,
                external_data=False,  # one file: the weights stay inside model.onnx
                verbose=False,
            )
        dimension = _check_export(tmp, model, names, model_dir)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    tok_tmp = _temporary(folder / "tokenizer.json")
    tokenizer.backend_tokenizer.save(str(tok_tmp))
    os.replace(tok_tmp, folder / "tokenizer.json")
    meta = {
        "source": str(model_dir),
        "max_seq_length": int(model.max_seq_length),
        "dimension": dimension,
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token or "[PAD]"),
        "inputs": names,
        "torch": torch.__version__,
        "export_version": ONNX_EXPORT_VERSION,
    }
    meta_tmp = _temporary(folder / "export.json")
    meta_tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    os.replace(meta_tmp, folder / "export.json")  # last: its presence means the export is complete


def _check_export(path: Path, model: Any, names: Sequence[str], model_dir: Path) -> int:
    """The exported graph must give torch's vectors on texts of other lengths than it was traced with."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    enc = model.tokenizer(list(_PROBES), padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np")
    got = session.run(None, {n: enc[n].astype(np.int64) for n in names})[0]
    want = model.encode(list(_PROBES), normalize_embeddings=True, convert_to_numpy=True)
    worst = float((got * want).sum(axis=1).min())
    if worst < 0.999:
        raise ModelUnavailableError(
            f"The ONNX export of {model_dir} does not reproduce the torch model (cosine {worst:.3f}). "
            "Drop @onnx from --model to use torch."
        )
    return int(got.shape[1])


def _quantize(folder: Path) -> None:
    """Dynamic int8 weights for the MatMuls, one scale per output channel.

    subtle: a single scale per tensor (the onnxruntime default) costs MiniLM
    much more accuracy (cosine ~0.96 to fp32, against ~0.99 per channel).
    """
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ModelUnavailableError(
            "int8 quantisation needs the onnx package. Run `pip install onnx`, or use @onnx instead of @onnx-int8."
        ) from exc
    target = folder / ONNX_FILES["onnx-int8"]
    tmp = _temporary(target)
    try:
        with _quiet():
            quantize_dynamic(
                str(folder / ONNX_FILES["onnx"]), str(tmp),
                weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def needs_export(name: str, home: Path | None = None) -> bool:
    """True when ``name`` runs on onnxruntime and its export is not in ``home`` yet.
    Resolves the model, so it trains it when that is still to do: ask :func:`needs_training` first."""
    base, backend = split_backend(name)
    if backend == "torch" or name.startswith("hashing"):
        return False
    folder = onnx_cache_folder(resolve_model(base, home), Home.of(home).onnx, base)
    return not (folder / ONNX_FILES[backend]).exists() or not (folder / "export.json").exists()
