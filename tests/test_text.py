from __future__ import annotations

import pytest

from assistant.text import contains_sentence, fold, sentences, words


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
