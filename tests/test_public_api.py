from __future__ import annotations

import assistant


def test_all_names_resolve() -> None:
    for name in assistant.__all__:
        assert getattr(assistant, name) is not None, name


def test_all_is_sorted_and_unique() -> None:
    assert list(assistant.__all__) == sorted(set(assistant.__all__))


def test_every_module_all_names_what_it_has() -> None:
    """``__all__`` stays honest across the tree: each name it lists exists, and each stage's
    package declares what it offers."""
    import importlib
    import pkgutil

    declared = []
    for info in pkgutil.walk_packages(assistant.__path__, "assistant."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        if info.ispkg:
            assert hasattr(module, "__all__"), f"{info.name} declares no __all__"
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"{info.name}.__all__ names {name}, which it does not have"
            declared.append(info.name)
    assert len(set(declared)) > 20
