"""One ``assistant eval`` run, end to end: load suites, open (or build) an index, run, gate, write.

The CLI turns flags into an ``EvalRequest`` and prints; everything else happens here,
so a notebook or a test can run an evaluation without argparse.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.evaluation.compare import Comparison, compare
from assistant.evaluation.report import build_report, load_report
from assistant.evaluation.suites import Suite, discover, select
from assistant.evaluation.thresholds import Check, Thresholds

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]  # (label, done, total)


@dataclass(frozen=True)
class EvalRequest:
    evals_dir: Path = Path("evals")
    suites: tuple[str, ...] = ()
    split: str = "test"
    corpus: Path | None = None
    configurations: tuple[str, ...] = ()
    answerers: tuple[str, ...] = ()
    against: Path | None = None
    report_dir: Path | None = None
    thresholds: Path | None = None
    plots: bool = True
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # for LLM answerers' hosts and keys; never recorded

    def command(self) -> list[str]:
        """The ``assistant eval`` command line that repeats this request (settings are recorded apart)."""
        argv = ["assistant", "eval", "--split", self.split]
        pairs = [("--evals", self.evals_dir if self.evals_dir != Path("evals") else None),
                 ("--suite", ",".join(self.suites) or None), ("--corpus", self.corpus),
                 ("--modes", ",".join(self.configurations) or None), ("--answerers", ",".join(self.answerers) or None),
                 ("--thresholds", self.thresholds), ("--against", self.against)]
        argv += [str(x) for flag, value in pairs if value is not None for x in (flag, value)]
        return argv + ([] if self.plots else ["--no-plots"])


@dataclass(frozen=True)
class EvalOutcome:
    report: dict[str, Any]
    folder: Path
    failed: tuple[Check, ...]
    comparison: Comparison | None
    gaps: tuple[Check, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def load_suites(request: EvalRequest) -> list[Suite]:
    """The selected suites, cut to the requested split; suites left empty by the split are dropped."""
    chosen = [s.in_split(request.split) for s in select(discover(request.evals_dir), request.suites)]
    kept = [s for s in chosen if s.cases]
    if not kept:
        raise ConfigError(f"No cases in split {request.split!r} for suites {', '.join(s.name for s in chosen)}. Try --split all.")
    return kept


def report_folder(request: EvalRequest) -> Path:
    if request.report_dir is not None:
        return request.report_dir
    base = request.evals_dir / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def run(request: EvalRequest, settings: Settings, say: Say = lambda _: None,
        progress: Progress | None = None) -> EvalOutcome:
    """Validate every input first (cheap), then load the model and run (expensive)."""
    started = time.perf_counter()
    suites = load_suites(request)
    thresholds = Thresholds.from_file(request.thresholds or request.evals_dir / "thresholds.toml")
    earlier = load_report(request.against) if request.against else None
    # subtle: the runner imports the pipeline (torch, chromadb); a typo in a suite is reported before that.
    from assistant.evaluation.runner import evaluate, parse_configurations, relevant_counts

    configs = parse_configurations(request.configurations, settings.mode, request.answerers)
    folder = report_folder(request)
    if request.corpus is not None and not request.corpus.is_dir():
        raise ConfigError(f"No corpus folder at {request.corpus}. Pass --corpus an existing folder of articles.")

    with tempfile.TemporaryDirectory(prefix="assistant-eval-") as tmp:
        assistant, timings, corpus_dir = _open(request, settings, Path(tmp), say, progress)

        counts = relevant_counts(assistant, suites)
        total = sum(len(s.cases) for s in suites) * len(configs)
        done = 0

        def step(label: str) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(label, done, total)

        say(f"Running {sum(len(s.cases) for s in suites)} cases x {len(configs)} configuration(s) ...")
        results = evaluate(assistant, suites, configs, step, counts, env=request.env)
        info = assistant.info
    timings["total_s"] = time.perf_counter() - started

    warnings = [
        f"{suite}/{case_id}: no indexed passage contains any of its gold sentences, so it cannot score on retrieval "
        "(a gold sentence split across passages, or the corpus changed)."
        for (suite, case_id), n in counts.items() if n == 0
    ]
    checks = thresholds.check((r.config.name, r.config.mode, r.metrics) for r in results)
    corpus = {"dir": str(corpus_dir), "version": info.corpus_version, "documents": info.documents,
              "passages": info.passages, "indexed_at": info.indexed_at, "model": info.model,
              "index_dir": None if request.corpus else str(settings.index_dir),
              "temporary_index": request.corpus is not None}
    report = build_report(results=results, suites=suites, split=request.split, settings=settings, corpus=corpus,
                          timings=timings, checks=checks, thresholds_file=str(thresholds.path) if thresholds.path else None,
                          warnings=warnings, command=request.command())
    comparison = compare(earlier, report) if earlier is not None else None
    if comparison is not None:
        report["against"] = {"report": str(request.against), **comparison.to_dict()}
    write(report, folder, request.plots)
    return EvalOutcome(report, folder, tuple(c for c in checks if c.blocking), comparison,
                       tuple(c for c in checks if c.failed and not c.blocking))


def _open(request: EvalRequest, settings: Settings, tmp: Path, say: Say, progress: Progress | None) -> tuple[Any, dict[str, float], Path]:
    """Load the model and the index (building a temporary one for --corpus); time the cold start."""
    from assistant.index.embedding import load_embedder
    from assistant.pipeline import Assistant
    from assistant.evaluation.runner import warm_up

    timings: dict[str, float] = {}
    say(f"Loading embedding model {settings.model} ...")
    t0 = time.perf_counter()
    embedder = load_embedder(settings.model, home=settings.home)
    model_s = time.perf_counter() - t0
    corpus_dir = settings.corpus_dir
    if request.corpus is not None:
        from assistant.index.ingest import ingest

        corpus_dir = request.corpus
        settings = replace(settings, corpus_dir=request.corpus, index_dir=tmp / "index")
        say(f"Building a temporary index of {request.corpus} ...")
        t = time.perf_counter()
        built = ingest(settings, embedder, (lambda d, n: progress("indexing", d, n)) if progress else None)
        timings["index_build_s"] = time.perf_counter() - t
        say(built.summary())
    t1 = time.perf_counter()
    assistant = Assistant.load(settings, embedder)
    timings["load_s"] = model_s + time.perf_counter() - t1
    timings["first_answer_s"] = warm_up(assistant)
    timings["cold_start_s"] = timings["load_s"] + timings["first_answer_s"]
    return assistant, timings, corpus_dir


def write(report: dict[str, Any], folder: Path, plots: bool = True) -> list[Path]:
    """report.json, the PNG plots and report.md into ``folder`` (created if needed)."""
    import json

    from assistant.evaluation.markdown import render_markdown

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the report folder {folder}: {exc.strerror or exc}. Pass --report DIR.") from exc
    names: list[str] = []
    if plots:
        from assistant.evaluation.plots import INSTALL_HINT, write_plots

        try:
            names = write_plots(report, folder)
        except ImportError:
            report["warnings"].append(INSTALL_HINT)
    # subtle: a hostile case may carry a lone surrogate; write it as a \udXXX escape, not crash.
    (folder / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8", errors="backslashreplace")
    (folder / "report.md").write_text(render_markdown(report, names), encoding="utf-8", errors="backslashreplace")
    return [folder / "report.json", folder / "report.md", *(folder / n for n in names)]
