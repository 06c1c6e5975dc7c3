"""User mistakes the command reports in one line (never a traceback)."""

from __future__ import annotations


class UserError(Exception):
    """A missing file or column, unusable data, a model the command cannot use:
    the message says what was expected and what was found."""
