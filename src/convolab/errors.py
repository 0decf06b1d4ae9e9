"""One exception type, one warning type, and the helpers that word their messages.

Every message names the argument, the value it got and what is allowed, so a
user can fix the call without reading the source.  ``ConvolabError`` is a
``ValueError`` so that code written for scipy (``except ValueError``) keeps
working.
"""

from __future__ import annotations

from typing import Any, Iterable


class ConvolabError(ValueError):
    """Raised for arguments that convolab cannot compute with.

    The message names the argument, the value received and the allowed values.
    """


class ConvolabWarning(UserWarning):
    """Warned when a result is computed but may surprise: an integer result
    that wrapped around when cast back to the input dtype, for example."""


def not_one_of(name: str, value: Any, allowed: Iterable[Any], hint: str = "") -> ConvolabError:
    """Build the standard "``name=value`` is not one of [...]" error."""
    allowed_list = ", ".join(repr(a) for a in allowed)
    message = f"{name}={value!r} is not one of [{allowed_list}]"
    if hint:
        message += f"; {hint}"
    return ConvolabError(message)


def format_bytes(n: float) -> str:
    """Human-readable byte count: ``format_bytes(3 * 2**30) == '3.0 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the caller's line,
    outside convolab (so the warning names the user's call, not ours)."""
    import os
    import sys

    package_dir = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package_dir):
        frame = frame.f_back
        level += 1
    return level
