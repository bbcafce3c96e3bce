"""Argument checks whose messages name the argument (or command-line flag) and the accepted
values.

Example:
    >>> check_choice("shift", "forward", ("bidirectional", "none"))
    Traceback (most recent call last):
    ...
    ValueError: `shift` must be one of ('bidirectional', 'none'). Received: 'forward'
    >>> check_choice("lr_schedule", "cosine", ("step", "cosine"), flag=True)
"""

from __future__ import annotations

from collections.abc import Iterable


def check_choice(name: str, value, choices: Iterable, *, flag: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``.

    ``flag=True`` names the command-line flag (``--lr-schedule``) instead of the argument
    (```lr_schedule```).
    """
    choices = tuple(choices)
    if value not in choices:
        what = f"--{name.replace('_', '-')}" if flag else f"`{name}`"
        raise ValueError(f"{what} must be one of {choices}. Received: {value!r}")
