"""The README is checked against the CLI: every option it shows exists in that command's --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _examples() -> list[tuple[str, list[str]]]:
    text = README.read_text()
    blocks = re.findall(r"```(?:sh|console|yaml)?\n(.*?)```", text, flags=re.S)
    found = []
    for block in blocks:
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            m = re.search(r"\bmmon ([a-z][a-z-]+)\b(.*)", line)
            if not m or m.group(1) in ("bin",):
                continue
            options = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", m.group(2))
            # After a bare `--` the words belong to the command being scheduled (mmon run).
            if " -- " in m.group(2):
                head, tail = m.group(2).split(" -- ", 1)
                options = re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", head)
                rest = re.match(r"\s*([a-z][a-z-]+)(.*)", tail)
                if rest:
                    found.append((rest.group(1), re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest.group(2))))
            found.append((m.group(1), options))
    return found


def _help(command: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "mmon", command, "--help"], capture_output=True, text=True, env={"TERMINAL_WIDTH": "400", "PATH": ""}
    )
    assert out.returncode == 0, (command, out.stderr)
    return out.stdout


def test_readme_commands_exist_and_options_are_in_help() -> None:
    examples = _examples()
    assert len(examples) >= 10
    helps: dict[str, str] = {}
    for command, options in examples:
        if command not in helps:
            helps[command] = _help(command)
        for opt in options:
            assert opt in helps[command], f"README shows `mmon {command} … {opt}`, which --help does not list"


@pytest.mark.parametrize("command", ["baseline", "capture-merge", "run", "violations", "schedule-print", "executions"])
def test_every_command_has_an_example_and_exit_codes(command: str) -> None:
    text = _help(command)
    assert f"mmon {command} " in text, "an example in --help"
    assert "Exit codes" in text or command in ("executions",)


def test_readme_lists_exit_codes_as_the_cli_does() -> None:
    from mmon.errors import EXIT_INPUT, EXIT_OK, EXIT_STORAGE, EXIT_VIOLATIONS

    text = README.read_text()
    for code in (EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT, EXIT_STORAGE):
        assert f"| {code} |" in text
