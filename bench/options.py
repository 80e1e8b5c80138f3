"""Option types shared by the benchmark's commands (``python -m bench``,
``python -m bench.instructions``), so both refuse a bad ``--only`` the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence


def names_of(known: Sequence[str]) -> Callable[[str], list[str]]:
    """``--only a,b``: a comma list of known names; an unknown one is refused with the list."""

    def names(text: str) -> list[str]:
        chosen = [name.strip() for name in text.split(",") if name.strip()]
        unknown = sorted(set(chosen) - set(known))
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"unknown {unknown}; known: {', '.join(known)}")
        return chosen

    return names


def positive(text: str) -> int:
    """A count: a whole number above 0."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number above 0, not {text!r}")
    return int(text)
