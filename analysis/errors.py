"""Errors raised by ParityLab's engine.

Every error the engine raises on purpose derives from one base class, so the app
and the CLI can catch exactly these and show their message; anything else is a bug.

    ParityLabError
    ├── LoadError      the file cannot be read as a table (format, encoding, shape, limits)
    ├── SpecError      an AuditSpec is malformed, or does not fit the table it is applied to
    │   └── OptionError    an option passed to an engine function is out of range (also a ValueError)
    └── ExplainError   the data cannot train a surrogate model (no features, one class, too few rows)

Messages say what was expected, what arrived, and how to fix it.
"""

from __future__ import annotations

from analysis.wording import Remedy, Surface, worded

__all__ = ["ExplainError", "LoadError", "OptionError", "ParityLabError", "SpecError"]


class ParityLabError(Exception):
    """Base class of every error ParityLab raises deliberately.

    Parameters
    ----------
    message
        What is wrong (and, when no single option fixes it, how to fix it).
    remedy
        The option that fixes it (:class:`analysis.wording.Remedy`), worded per surface by
        :meth:`message_for`; ``str(error)`` is the Python wording.
    """

    def __init__(self, message: str = "", *, remedy: Remedy | None = None):
        super().__init__(worded(message, remedy, "python"))
        self.message = message
        self.remedy = remedy

    def message_for(self, surface: Surface = "python", *, app_text: str | None = None) -> str:
        """The message worded for ``surface``: ``"python"``, ``"cli"`` or ``"app"`` (with the app's clause)."""
        return worded(self.message, self.remedy, surface, app_text=app_text)

    def __reduce__(self):  # pickling (Streamlit's cache, worker processes) keeps the structure
        return _rebuild, (type(self), self.message, dict(self.__dict__))


def _rebuild(kind: type, message: str, state: dict) -> ParityLabError:
    error = kind.__new__(kind)
    ParityLabError.__init__(error, message, remedy=state.get("remedy"))
    error.__dict__.update(state)
    return error


class LoadError(ParityLabError):
    """A file could not be read as a table.

    Parameters
    ----------
    message
        What was expected, what was found, and how to fix it.
    line
        1-based line number in the file the problem was found on, when known.
    column
        Name of the column concerned, when known.
    """

    def __init__(
        self, message: str, *, line: int | None = None, column: str | None = None, remedy: Remedy | None = None
    ):
        super().__init__(message, remedy=remedy)
        self.line = line
        self.column = column


class SpecError(ParityLabError):
    """An AuditSpec is malformed or cannot be applied to a table.

    ``problems`` holds every problem found (not only the first), when the error comes
    from validating a spec against a table.
    """

    def __init__(self, message: str, *, problems: tuple = (), remedy: Remedy | None = None):
        super().__init__(message, remedy=remedy)
        self.problems = problems


class ExplainError(ParityLabError):
    """The data cannot be explained: no usable feature, one decision class, too few rows."""


class OptionError(SpecError, ValueError):
    """An option's value is out of range, e.g. ``audit(di_threshold=1.5)``.

    A :class:`SpecError` (an option is part of what the analysis is asked to do, and callers that
    caught SpecError for bad options still do) and a ``ValueError``. The checks that raise it are in
    :mod:`analysis.options`. ``option`` names the option concerned.
    """

    def __init__(self, message: str, *, option: str | None = None, remedy: Remedy | None = None):
        super().__init__(message, remedy=remedy)
        self.option = option
