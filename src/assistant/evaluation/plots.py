"""PNG plots for the report. matplotlib is imported here only, lazily, on the Agg backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.schema import LEVELS

INSTALL_HINT = "matplotlib is not installed, so the report has no plots. Run `pip install matplotlib`."


def write_plots(report: dict[str, Any], folder: Path) -> list[str]:
    """Write the plots that have data; returns their file names. Raises ImportError without matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = report["configurations"]
    written: list[str] = []

    curves = [(name, style, c["details"].get(key) or {}) for name, c in configs.items()
              for key, style in (("recall_curve", "-o"), ("conversation_recall_curve", "--s"))]
    if any(curve for _, _, curve in curves):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, style, curve in curves:
            if curve:
                ks = sorted(int(k) for k in curve)
                label = name if style == "-o" else f"{name} (conversations)"
                ax.plot(ks, [curve[str(k)] for k in ks], style, label=label)
        ax.set(xlabel="k (passages retrieved)", ylabel="recall@k", title="Retrieval recall@k", ylim=(0, 1.02))
        ax.grid(alpha=0.3)
        ax.legend()
        written.append(_save(fig, folder / "recall_at_k.png", plt))

    if any(c["details"].get("triage_confusion") for c in configs.values()):
        fig, ax = plt.subplots(figsize=(7, 4))
        series = [(name, kind) for name in configs for kind in ("recall", "precision")]
        width = 0.8 / len(series)
        for i, (name, kind) in enumerate(series):
            values = [configs[name]["metrics"].get(f"triage.{kind}.{level}") or 0.0 for level in LEVELS]
            ax.bar([x + i * width for x in range(len(LEVELS))], values, width, label=f"{name} {kind}")
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(LEVELS))], LEVELS)
        ax.set(ylabel="share", title="Triage recall and precision per tier", ylim=(0, 1.05))
        ax.legend(fontsize="small")
        written.append(_save(fig, folder / "triage_tiers.png", plt))

    latencies = {name: c["details"].get("latencies_ms") or [] for name, c in configs.items()}
    if any(latencies.values()):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, values in latencies.items():
            if values:
                ax.hist(values, bins=30, alpha=0.5, label=name)
        ax.set(xlabel="time per question (ms)", ylabel="questions", title="Answer latency")
        ax.legend()
        written.append(_save(fig, folder / "latency.png", plt))
    return written


def _save(fig: Any, path: Path, plt: Any) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
