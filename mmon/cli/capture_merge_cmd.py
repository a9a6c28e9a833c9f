"""``mmon capture-merge``."""

from __future__ import annotations

import posixpath
import sys
from contextlib import redirect_stdout
from typing import Annotated

import typer
from rich.table import Table

from mmon.capture.flat import META_COLUMNS
from mmon.capture.merge import SUMMARY_NAME, MergeSummary, capture_merge
from mmon.capture.parts import LEGACY_NAMES, PART_PATTERN
from mmon.capture.window import parse_duration, resolve_window
from mmon.cli.console import file_progress, out, print_json, warn
from mmon.cli.options import EXIT_CODES_HELP, EndOffset, JsonOutput, Quiet, StartOffset, StorageOption
from mmon.errors import InputError
from mmon.own_files import is_inside, refuse_overwrite
from mmon.store import Store, join, parse_storage_options

HELP = f"""Turn a window of SageMaker data capture (and ground truth) into one dataset for a monitoring run.

CAPTURE is the capture folder of an endpoint variant, {{prefix}}/{{endpoint}}/{{variant}}, holding yyyy/mm/dd/hh/*.jsonl (an endpoint folder or the capture prefix reads every variant below it). Only the hour folders of the window are listed; records are then kept by eventMetadata.inferenceTime.

The window is \\[start, end) in UTC: --start-time/--end-time, or SageMaker's --scheduled-time with --start-offset/--end-offset (ISO 8601 durations, default -PT1H/-PT0H). Without --scheduled-time the current hour is used, so the previous full hour is read.

OUTPUT receives the window as SageMaker's merge job writes it, part-0000N-<uuid>.c000.jsonl (or .parquet) files of a bounded number of records each, and merge_summary.json, published together: a reader sees the whole window or the previous one, and an interrupted merge leaves no folder that looks complete; a rerun replaces them. Without --ground-truth: output columns, then input columns (SageMaker's layout of a CSV capture), named from --header-from or _c0, _c1, …, then {", ".join(META_COLUMNS)}. With --ground-truth: SageMaker's merged records (capture record + groundTruthData) for each captured record with a label, joined on inferenceId, else eventId; with --flat a table of prediction, \\[probability], label, the feature columns and the reserved columns.

Duplicate eventIds keep their first record; a relabelled eventId keeps its last label. Malformed lines are counted and shown (file:line); --strict makes them an error. An empty window is not an error: empty output, zero counts and a warning.

[bold]Examples[/]

  mmon capture-merge --capture s3://bucket/datacapture/my-endpoint/AllTraffic --output s3://bucket/merged/h13 --scheduled-time 2024-01-01T14:00:00Z --header-from baseline/statistics.json

  mmon capture-merge --capture cap/ep/AllTraffic --ground-truth gt/ --output out/ --flat --start-time 2024-01-01T00:00Z --end-time 2024-01-02T00:00Z --ground-truth-lookahead PT24H --probability-attribute 0 --format parquet
"""


# The counts of a merge, in the order of the table: (label, MergeSummary attribute, when it is
# shown: always, with --ground-truth, when payloads are decoded (a flat or preprocessed merge), or
# for a preprocessed merge).
_COUNTS = (
    ("hour folders", "hour_folders", "always"),
    ("files read", "files", "always"),
    ("records read", "records", "always"),
    ("malformed lines", "malformed_lines", "always"),
    ("shadow traffic skipped", "shadow_skipped", "always"),
    ("outside the window", "outside_window", "always"),
    ("records in window", "in_window", "always"),
    ("duplicate event ids dropped", "duplicates", "always"),
    ("label files read", "label_files", "labels"),
    ("labels read", "label_lines", "labels"),
    ("malformed label lines", "label_malformed_lines", "labels"),
    ("duplicate labels (last kept)", "duplicate_labels", "labels"),
    ("matched", "matched", "labels"),
    ("captured without label", "captured_without_label", "labels"),
    ("labels without capture", "labels_without_capture", "labels"),
    ("payloads that cannot be read", "malformed_payloads", "payloads"),
    ("preprocessor errors", "preprocessor_errors", "preprocessed"),
    ("dropped by the preprocessor", "preprocessor_dropped", "preprocessed"),
    ("rows written", "rows", "always"),
)


def _table(s: MergeSummary) -> Table:
    w = s.window.to_dict()
    t = Table(title=f"capture-merge {w['start']} to {w['end']}", show_header=True)
    t.add_column("")
    t.add_column("count", justify="right")
    shown = {
        "always": True,
        "labels": s.ground_truth is not None,
        "payloads": s.output_kind != "merged",
        "preprocessed": s.output_kind == "preprocessed",
    }
    for label, attribute, when in _COUNTS:
        if shown[when]:
            t.add_row(label, str(getattr(s, attribute)))
    return t


def register(app: typer.Typer) -> None:
    @app.command("capture-merge", help=HELP, epilog=EXIT_CODES_HELP)
    def capture_merge_cmd(
        capture: Annotated[str, typer.Option("--capture", help="Capture folder: {prefix}/{endpoint}/{variant} of an endpoint, or a batch-transform capture destination (input/ and output/ manifests).", metavar="CAPTURE_URI")],
        output: Annotated[str, typer.Option("--output", "-o", help="Folder or URL for the part-* files and merge_summary.json.", metavar="OUT")],
        ground_truth: Annotated[
            str | None, typer.Option("--ground-truth", help="Ground-truth folder (holds yyyy/mm/dd/hh).", metavar="GT_URI")
        ] = None,
        start_time: Annotated[str | None, typer.Option("--start-time", help="Window start (ISO 8601, UTC).")] = None,
        end_time: Annotated[str | None, typer.Option("--end-time", help="Window end, excluded (ISO 8601, UTC).")] = None,
        scheduled_time: Annotated[
            str | None, typer.Option("--scheduled-time", help="Execution time the offsets apply to (default: this hour).")
        ] = None,
        start_offset: StartOffset = None,
        end_offset: EndOffset = None,
        ground_truth_lookahead: Annotated[
            str,
            typer.Option(
                "--ground-truth-lookahead",
                help="Also read labels filed up to this long after the window end (labels that arrive later "
                "than their predictions). Default PT0H: the window's own hour folders, as SageMaker's merge job.",
            ),
        ] = "PT0H",
        capture_lookbehind: Annotated[
            str,
            typer.Option(
                "--capture-lookbehind",
                help="Also read capture hour folders this long before the window start (records are still kept "
                "by inferenceTime). Default PT0H.",
            ),
        ] = "PT0H",
        header_from: Annotated[
            str | None,
            typer.Option("--header-from", help="Baseline statistics.json or dataset whose column names (in order) name the columns."),
        ] = None,
        flat: Annotated[bool, typer.Option("--flat", help="With --ground-truth: write a table, not merged records.")] = False,
        inference_attribute: Annotated[
            str | None,
            typer.Option("--inference-attribute", help="Output column holding the prediction: index (0 = first) or JSON field name. Default 0."),
        ] = None,
        probability_attribute: Annotated[
            str | None,
            typer.Option("--probability-attribute", help="Output column holding the probability (index or name); adds a probability column."),
        ] = None,
        preprocessor: Annotated[
            str | None, typer.Option("--preprocessor", help="Python file defining preprocess_handler(inference_record[, logger]).")
        ] = None,
        preprocessor_errors: Annotated[
            str, typer.Option("--preprocessor-errors", help="fail (stop at the first exception, as SageMaker) or skip (count and go on).")
        ] = "fail",
        fmt: Annotated[str, typer.Option("--format", "-f", help="Output format: jsonl or parquet.")] = "jsonl",
        strict: Annotated[bool, typer.Option("--strict", help="Stop at the first malformed line or unreadable payload (exit 2).")] = False,
        workers: Annotated[int, typer.Option("--workers", help="Files read at the same time.", min=1, max=256)] = 16,
        storage_option: StorageOption = None,
        json_output: JsonOutput = False,
        quiet: Quiet = False,
    ) -> None:
        window = resolve_window(start_time, end_time, scheduled_time, start_offset, end_offset)
        lookahead = parse_duration(ground_truth_lookahead, "--ground-truth-lookahead")
        lookbehind = parse_duration(capture_lookbehind, "--capture-lookbehind")
        store = Store(parse_storage_options(storage_option or []))
        refuse_overwrite(
            [join(output, SUMMARY_NAME)], [("--header-from", header_from), ("--preprocessor", preprocessor)]
        )
        for flag, given in (("--header-from", header_from), ("--preprocessor", preprocessor)):
            if given and is_inside(given, output) and (PART_PATTERN.match(posixpath.basename(given.replace("\\", "/")))
                                                        or posixpath.basename(given) in LEGACY_NAMES):  # fmt: skip
                # A rerun replaces (or removes) the parts of the previous merge.
                raise InputError(f"{output}: the output would overwrite the input {given} ({flag}); write the merge to another folder")
        for flag, root in (("--capture", capture), ("--ground-truth", ground_truth)):
            if root and is_inside(output, root):
                # merged.jsonl in a capture hour folder would be read back as capture next time.
                raise InputError(f"--output {output} is inside {flag} {root}: write the merge to another folder")
        # User code (pre/postprocessor, model script) may print: stdout is for mmon's result only.
        with file_progress("Merging", quiet or json_output) as progress, redirect_stdout(sys.stderr):
            summary = capture_merge(
                store, capture, output, window, ground_truth=ground_truth, header_from=header_from, fmt=fmt,
                flat=flat, preprocessor=preprocessor, preprocessor_errors=preprocessor_errors,
                inference_attribute=inference_attribute, probability_attribute=probability_attribute,
                strict=strict, capture_lookbehind=lookbehind, ground_truth_lookahead=lookahead,
                workers=workers, progress=progress,
            )  # fmt: skip
        if summary.malformed_lines or summary.label_malformed_lines or summary.malformed_payloads:
            n = summary.malformed_lines + summary.label_malformed_lines + summary.malformed_payloads
            first = f"; first: {summary.problems[0]}" if summary.problems else ""
            warn(f"{n} malformed line(s) or payload(s) left out (see merge_summary.json){first}", quiet or json_output)
        if summary.preprocessor_errors:
            warn(f"the preprocessor failed on {summary.preprocessor_errors} record(s), left out", quiet or json_output)
        for w in summary.warnings:
            warn(w, quiet or json_output)
        if json_output:
            print_json({"status": "ok", **summary.to_dict()})
            return
        out.print(_table(summary))
        for p in summary.problems[:5]:
            out.print(f"  malformed: {p}", highlight=False, markup=False)
        n = len(summary.part_names)
        out.print(f"Wrote {output} ({summary.rows} rows in {n} part{'s' if n != 1 else ''})", highlight=False)
