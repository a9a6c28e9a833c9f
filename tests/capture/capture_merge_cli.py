"""``mmon capture-merge`` run in-process (typer's CliRunner) for the capture tests."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from mmon.cli.capture_merge_cmd import register
from mmon.errors import MmonError


def capture_merge_cli(*args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``mmon capture-merge *args``; for an mmon error the error's
    exit code and message stand for the exit code and stderr (the runner catches it before main does)."""
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        pass

    register(app)
    r = CliRunner().invoke(app, ["capture-merge", *args])
    if isinstance(r.exception, MmonError):
        return r.exception.exit_code, r.stdout, str(r.exception)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr
