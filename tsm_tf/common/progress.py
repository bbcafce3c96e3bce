"""A progress line on stderr for long loops (evaluation, dataset preparation): written at most
every ``every`` seconds, and once more at the end, so logs stay short when not on a terminal.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> p = Progress(total=4, unit="videos", label="test", every=0.0, stream=out)
    >>> p.update(2)
    >>> out.getvalue().startswith("test: 2/4 videos")
    True
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """``label: done/total unit, rate unit/s, ETA`` (or the text of ``describe()``) on
    ``stream`` (default stderr)."""

    def __init__(self, total: int, *, unit: str = "items", label: str = "progress",
                 every: float = 10.0, enabled: bool = True, stream: TextIO | None = None,
                 describe: Callable[[], str] | None = None):
        self.total, self.unit, self.label = total, unit, label
        self.every, self.enabled, self.stream, self.describe = every, enabled, stream, describe
        self.start = self.last = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        """Report ``done`` items when ``every`` seconds passed since the last line (or
        ``force``)."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < self.every):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        if self.describe is not None:
            text = f"{self.describe()} ({rate:.1f} {self.unit}/s)"
        else:
            eta = (self.total - done) / rate if rate > 0 else float("nan")
            text = (f"{self.label}: {done}/{self.total} {self.unit}, {rate:.1f} {self.unit}/s, "
                    f"ETA {eta:.0f}s")
        print(text, file=self.stream or sys.stderr, flush=True)
