"""Bad-input handling shared by the list reader, the decoders and the pipeline.

Every problem with user data is a :class:`DataError` whose message names the file (and line,
when there is one) and says how to fix it. With ``on_error="raise"`` the first one stops the
run; with ``on_error="skip"`` it is counted in an :class:`ErrorLog` and the sample is dropped.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

ON_ERROR_CHOICES = ("raise", "skip")


class DataError(ValueError):
    """A problem with dataset files (list file, frames, videos, records)."""

    def __init__(self, message: str, kind: str = "data"):
        super().__init__(message)
        self.kind = kind


def check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(
            f"on_error must be one of {ON_ERROR_CHOICES}. Received: on_error={on_error!r}"
        )
    return on_error


@dataclass
class ErrorLog:
    """Thread-safe tally of skipped samples, by kind, with the first few messages kept.

    Example:
        >>> log = ErrorLog()
        >>> log.add(DataError("frames/a: missing img_00003.jpg", kind="missing_frame"))
        >>> log.counts["missing_frame"]
        1
    """

    max_messages: int = 20
    counts: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, error: DataError) -> None:
        with self._lock:
            self.counts[error.kind] += 1
            if len(self.messages) < self.max_messages:
                self.messages.append(str(error))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def report(self) -> str:
        if not self.total:
            return "no samples skipped"
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        lines = [f"{self.total} samples skipped ({kinds})"]
        lines += [f"  {m}" for m in self.messages]
        if self.total > len(self.messages):
            lines.append(f"  ... {self.total - len(self.messages)} more")
        return "\n".join(lines)

    def handle(self, error: DataError, on_error: str) -> None:
        """Raise ``error`` (on_error="raise") or count it (on_error="skip")."""
        if on_error == "raise":
            raise error
        self.add(error)
