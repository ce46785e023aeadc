"""Where the product keeps what it builds: one folder per user, whatever folder it runs from.

    <home>/index/     the served index (assistant ingest)
    <home>/models/    the patient-wording model, trained once (assistant setup)
    <home>/onnx/      the ONNX exports of the embedding models
    <home>/triage/    the embedded red-flag phrasings
    <home>/derived/   derived files of an index on a Chroma server

``<home>`` is the per-user data folder (``~/.local/share/assistant`` on Linux,
from platformdirs), or ASSISTANT_HOME. Only the edges read ASSISTANT_HOME, into
``Settings.home``; code that is handed no home uses :func:`default_home`.

>>> Home(Path("/srv/assistant")).models
PosixPath('/srv/assistant/models')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

APP_NAME = "assistant"


def default_home() -> Path:
    """The per-user data folder; nothing is created."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def of(cls, root: Path | None) -> Home:
        return cls((root or default_home()).expanduser())

    @property
    def index(self) -> Path:
        return self.root / "index"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def onnx(self) -> Path:
        return self.root / "onnx"

    @property
    def triage(self) -> Path:
        return self.root / "triage"

    @property
    def derived(self) -> Path:
        return self.root / "derived"
