"""Errors with the exit codes that cron and CI rely on.

0 clean, 1 violations found, 2 usage or bad input, 3 storage error. Every error mmon raises on
purpose is an ``MmonError``; the CLI prints its one-line message and exits with its code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_INPUT = 2
EXIT_STORAGE = 3


class MmonError(Exception):
    """Base class: a one-line, user-facing message and an exit code."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(MmonError):
    """Bad input data, a bad file or bad usage (exit 2)."""

    exit_code = EXIT_INPUT


class SchemaError(InputError):
    """A JSON document that does not match its schema (exit 2)."""


class StorageError(MmonError):
    """The store could not be reached, read or written (exit 3)."""

    exit_code = EXIT_STORAGE
