"""`assistant corpus lint` finds what an editor should fix, on real files."""

from __future__ import annotations

import shutil
from pathlib import Path

from assistant import cli

ROOT = Path(__file__).resolve().parents[1]


def test_lint_reports_each_kind_of_problem(tmp_path: Path, capsys) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    guide = (corpus / "microneedling-bad-reactions-guide.txt").read_text(encoding="utf-8")
    fever = next(p for p in guide.split("\n\n") if p.startswith("In rare cases, a fever or chills"))
    (corpus / "copied-fever.md").write_text(f"# Fever\n\n{fever}\n", encoding="utf-8")
    (corpus / "promo.txt").write_text(
        "Aftercare tips\n\nKeep your skin clean for a day. Click here to book now and get 20% off!\n\n"
        "Tiny\n\nShort.\n\nSun\n\nWear sunscreen every day while your skin heals after the treatment.\n",
        encoding="utf-8",
    )
    (corpus / "plain.txt").write_text("keep the skin clean and moisturised for several days after the session.", encoding="utf-8")
    (corpus / "old.md").write_text("---\nreviewed: 2019-01-01\n---\n# Old note\n\nIce helps swelling go down.\n", encoding="utf-8")
    (corpus / "blank.txt").write_text("", encoding="utf-8")

    assert cli.main(["corpus", "lint", "--corpus", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "promo.txt: possible boilerplate: Keep your skin clean for a day. Click here" in out
    assert "promo.txt: very short section: 'Tiny'" in out
    assert "plain.txt: no headings" in out
    assert "old.md: review out of date: last reviewed 2019-01-01" in out
    duplicate = next(line for line in out.splitlines() if "near-duplicate passage" in line)
    assert "copied-fever.md" in duplicate and "microneedling-bad-reactions-guide.txt" in duplicate
    assert "blank.txt: skipped: is empty" in out
