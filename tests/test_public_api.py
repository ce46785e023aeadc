from __future__ import annotations

import assistant


def test_all_names_resolve() -> None:
    for name in assistant.__all__:
        assert getattr(assistant, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert list(assistant.__all__) == sorted(set(assistant.__all__))
