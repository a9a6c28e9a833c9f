"""The ``mmon`` command: sub-commands, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import os
import sys
from typing import Any

import typer
import typer.rich_utils

from mmon import __version__
from mmon.cli import (
    baseline_cmd,
    capture_merge_cmd,
    capture_status_cmd,
    report_cmd,
    run_cmd,
    schedule_cmd,
    violations_cmd,
)
from mmon.cli.console import err, error
from mmon.cli.merge_parts_cmd import register as register_merge_parts
from mmon.cli.options import EXIT_CODES_HELP
from mmon.cli.profile_part_cmd import register as register_profile_part
from mmon.errors import EXIT_INPUT, MmonError

try:  # typer >= 0.16 carries its own copy of click
    from typer._click import exceptions as click_exceptions
    from typer.exceptions import Abort
except ImportError:  # pragma: no cover - older typer: click itself
    from click import exceptions as click_exceptions  # type: ignore[no-redef]
    from click.exceptions import Abort  # type: ignore[no-redef,assignment]

EXIT_INTERRUPTED = 130

# Help read through a pipe (docs checks, `| less`) gets the width of a wide terminal, not 80
# columns that cut option names short.
if typer.rich_utils.MAX_WIDTH is None and not sys.stdout.isatty():
    typer.rich_utils.MAX_WIDTH = 140

app = typer.Typer(
    name="mmon",
    help="Model monitor for ML models in production: SageMaker Model Monitor's baselines, checks and "
    "reports on local disk, S3, MinIO or any fsspec store.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"mmon {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    pass


baseline_cmd.register(app)
capture_merge_cmd.register(app)
capture_status_cmd.register(app)
run_cmd.register(app)
schedule_cmd.register(app)
violations_cmd.register(app)
report_cmd.register(app)
register_profile_part(app)
register_merge_parts(app)


def _usage_line(exc: click_exceptions.UsageError) -> str:
    """A usage error as one line, with the command's help hint (typer's box is five lines)."""
    msg = " ".join(exc.format_message().split())
    ctx = exc.ctx
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{msg}{hint}"


@functools.cache
def _command() -> Any:
    """The click command, built once: typer builds it from the signatures on every ``app()``
    call (about 0.2 s), which in-process callers (the tests, the fuzz run) pay per command."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure ends as one line on stderr and a documented exit code."""
    try:
        # Not standalone: click's usage errors come here, to be said in one line like every error.
        result = _command()(args=argv, prog_name="mmon", standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into exit code 130
            err.print("mmon: interrupted", highlight=False)
        sys.exit(code)
    except click_exceptions.NoArgsIsHelpError as exc:
        exc.show()  # the command's help, as before (a bare `mmon` or a command without arguments)
        sys.exit(EXIT_INPUT)
    except click_exceptions.UsageError as exc:
        error(_usage_line(exc))
        sys.exit(EXIT_INPUT)
    except click_exceptions.ClickException as exc:  # e.g. a file option click could not open
        error(" ".join(exc.format_message().split()))
        sys.exit(EXIT_INPUT)
    except MmonError as exc:
        error(exc.message)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, Abort):
        err.print("mmon: interrupted", highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - no traceback for users; MMON_DEBUG=1 shows it
        if os.environ.get("MMON_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        error(f"{type(exc).__name__}: {first} (set MMON_DEBUG=1 for a traceback)", "mmon: internal error:")
        sys.exit(EXIT_INPUT)
