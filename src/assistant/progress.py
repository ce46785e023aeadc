"""Progress of long work, on stderr: a bar on a terminal, plain lines in a log.

A tqdm bar redraws itself with carriage returns; captured in a CI log or a file
it becomes one line of tens of thousands of characters. Off a terminal this
prints a line at most every tenth of the work instead::

    Embedding: 40 of 400 passages (10%)
    ...
    Embedding: 400 of 400 passages (100%)
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

STEPS = 10  # lines off a terminal, at most, for one piece of work


class Bar:
    """``Bar("Embedding", 400, "passage")``; call :meth:`update` with the count done, then :meth:`close`.

    >>> import io; out = io.StringIO(); bar = Bar("Training", 3, "step", out)
    >>> for done in (1, 2, 3): bar.update(done)
    >>> print(out.getvalue().strip())
    Training: 1 of 3 steps (33%)
    Training: 2 of 3 steps (67%)
    Training: 3 of 3 steps (100%)
    """

    def __init__(self, desc: str, total: int, unit: str, stream: TextIO | None = None) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.stream = stream or sys.stderr
        self._bar: Any = None
        self._shown = -1
        if total and _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit=unit, desc=desc, file=self.stream)

    def update(self, done: int, total: int | None = None) -> None:
        """Record ``done`` of the work (``total``, if given, corrects the count): a Progress callback."""
        if total is not None and total != self.total and self._bar is None:
            self.total = total
        if not self.total:
            return
        if self._bar is not None:
            self._bar.n = done
            self._bar.refresh()
            return
        step = done * STEPS // self.total
        if step > self._shown:
            self._shown = step
            plural = "" if self.total == 1 else "s"
            print(f"{self.desc}: {done} of {self.total} {self.unit}{plural} ({done / self.total:.0%})",
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
