from __future__ import annotations

import pytest

from assistant.text import contains_sentence, fold, overlapping, sentences, words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Redness is normal. See a doctor if it lasts.", ["Redness is normal.", "See a doctor if it lasts."]),
        ("Consult a dermatologist. They can help.", ["Consult a dermatologist.", "They can help."]),
        ("Take it e.g. With food. Then rest.", ["Take it e.g. With food.", "Then rest."]),
        ("Ask Dr. Lee first. Then book.", ["Ask Dr. Lee first.", "Then book."]),
        ("Is it normal? Yes! It fades.", ["Is it normal?", "Yes!", "It fades."]),
        ("Line one.\nLine two.", ["Line one.", "Line two."]),
        ("", []),
    ],
)
def test_sentences(text: str, expected: list[str]) -> None:
    got = list(sentences(text))
    assert [s for _, _, s in got] == expected
    assert all(text[a:b] == s for a, b, s in got)


def test_fold_and_contains() -> None:
    assert fold("It’s  “fine”\u00a0now") == "it's \"fine\" now"
    assert contains_sentence("Some text. It’s normal to be red. More.", "It's normal to be red.")
    assert words("Crème BRÛLÉE, 9/10!") == ["creme", "brulee", "9", "10"]


def test_safe_text() -> None:
    from assistant.text import safe_text

    assert safe_text("fever\ud800 and pus\x00") == "fever? and pus "
    assert safe_text("normal text, émoji 🤒") == "normal text, émoji 🤒"


def test_overlapping_finds_exactly_the_pairs_a_pairwise_comparison_finds() -> None:
    import random

    rng = random.Random(7)
    pool = [f"Sentence number {n} says something." for n in range(12)]
    texts = [" ".join(rng.sample(pool, rng.randint(0, 6))) for _ in range(40)]

    def share(a: str, b: str) -> float:
        sa, sb = ({fold(s) for _, _, s in sentences(t)} for t in (a, b))
        return len(sa & sb) / min(len(sa), len(sb)) if sa and sb else 0.0

    expected = [(i, j, share(a, b)) for i, a in enumerate(texts) for j, b in enumerate(texts)
                if i < j and share(a, b) >= 0.5]
    assert expected and list(overlapping(texts, 0.5)) == expected
