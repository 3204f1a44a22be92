"""``vision-cli inspect``: what each image is, whether the API takes it, and what it costs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from vision_cli import judging, limits
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import EXIT_HELP, ExitStatus
from vision_cli.formats import Format

if TYPE_CHECKING:
    from vision_cli import inspecting
    from vision_cli.environment import Environment
    from vision_cli.render.inspect import InspectSink

HELP = (
    SUMMARY["inspect"] + "\n\n"
    "For each image: format, real media type, size, orientation, frames, whether the API "
    "accepts it, whether it will shrink it, and its tokens for the model. Reads headers only "
    "(plus a check of each file's end for truncation), so it is fast on thousands of files; "
    "--verify also decodes every image to find damage inside the data.\n\n"
    f"{EXIT_HELP} With --strict, warnings count as errors."
)

EPILOG = """Examples:

  vision-cli inspect assets/

  vision-cli inspect 'docs/**/*.png' --exclude drafts --strict

  find . -name '*.jpg' -print0 | vision-cli inspect --files-from - -0 --format jsonl

  vision-cli inspect shots/*.png --request --model claude-opus-4-7 --json | jq .summary
"""


#: An --output that is one of the images read: refused, before a byte of it changes.
_OUTPUT_IS_INPUT = (
    "{output} is an image this run reads ({input}), and a report never replaces one: choose "
    "another file"
)


class _OutputIsInput(Exception):
    """A walk or a glob reached the --output file (its label is the message)."""


def inspect(
    inputs: options.InputsArg = None,
    model: options.ModelOpt = None,
    fmt: options.InspectFormatOpt = Format.table,
    json_flag: options.JsonOpt = False,
    quiet: options.QuietOpt = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Warnings fail the run too (exit 1).")
    ] = False,
    request: Annotated[
        bool,
        typer.Option(
            "--request",
            help="Judge all inputs as one API request: image count, total size, and the "
            "2000 px limit above 20 images.",
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Also decode each image to catch damage inside the data."),
    ] = False,
    max_bytes: options.MaxBytesOpt = options.DEFAULT_MAX_BYTES,
    ignore: options.IgnoreOpt = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=options.MAX_JOBS,
            help="Worker processes for long runs: from 500 images on, once checks take over "
            "0.12 ms each (from 4 on with --verify); default: the CPUs.",
            show_default=False,
        ),
    ] = None,
    output: options.OutputOpt = None,
    files_from: options.FilesFromOpt = None,
    null: options.NullOpt = False,
    exclude: options.ExcludeOpt = None,
    hidden: options.HiddenOpt = False,
    allow_private_urls: options.AllowPrivateUrlsOpt = False,
    clipboard: options.ClipboardOpt = False,
) -> None:
    import contextlib

    # lazy: start-up, these import Pillow
    from vision_cli import fsutil, inspecting, sources, workers
    from vision_cli.cli import groups
    from vision_cli.render.bars import progress

    env = common.env()
    given = groups.input_options(
        inputs, files_from, null, exclude, hidden, allow_private_urls, clipboard
    )
    chosen = common.output_format(fmt, json_flag)
    the_model = common.resolve_model(model)
    ignored = common.ignored_codes(ignore)
    if not given.inputs and files_from is None:
        common.usage_error("give at least one image, folder, glob, URL or -", "INPUTS")
    if chosen is Format.html and output is None and env.stdout_isatty:
        common.usage_error("an HTML report goes to a file: add --output report.html", "--format")
    if output is not None and str(output) == "-":
        output = None  # standard output, as without -o
    # the report never replaces an image it reads (written atomically, so refused before the end)
    guarded = fsutil.file_identity(output) if output is not None else None
    for arg in given.inputs if guarded else ():
        if fsutil.file_identity(Path(arg)) == guarded:
            common.usage_error(_OUTPUT_IS_INPUT.format(output=output, input=arg), "--output")
    summary = inspecting.InspectSummary()
    try:
        items = sources.iter_inputs(given.inputs, given.selection, env.stdin_bytes)
        total: int | None = None
        if request:
            listed = list(items)  # the request's size decides the per-image limit
            total = len(listed)
            items = iter(listed)
        lim = judging.Limits(
            tier=the_model.tier,
            max_bytes=common.max_bytes(max_bytes),
            many_images=bool(total and total > limits.MANY_IMAGES_THRESHOLD),
        )
        opts = inspecting.CheckOptions(
            model=common.model_name(model), limits=lim, verify=verify, ignore=ignored
        )
        with contextlib.ExitStack() as stack:
            stream = stack.enter_context(fsutil.atomic_text(output)) if output else env.stdout
            report = _report(chosen, quiet, stream, opts.model, env)
            show_progress = env.stderr_isatty and (output is not None or not env.stdout_isatty)
            with progress(total, "inspecting", enabled=show_progress, stream=env.stderr) as advance:
                checked = inspecting.check_all(
                    items,
                    opts,
                    jobs or workers.cpus(),
                    stdin=env.stdin_bytes,
                    lines=chosen is Format.jsonl,
                )
                held: list[inspecting.Checked] = []  # reported once the request's size is known
                for item, rec, data, line in checked:
                    read = getattr(item, "path", None)
                    if guarded and read and fsutil.file_identity(read) == guarded:
                        raise _OutputIsInput(item.label)
                    if lim.many_images:
                        held.append((item, rec, data, line))
                    else:
                        summary.add(rec)
                        report.add(rec, item, data, line)
                    advance(1)
            for item, rec, data, line in _as_one_request(held):
                summary.add(rec)
                report.add(rec, item, data, line)
            if request:
                summary.request_findings = [
                    f
                    for f in judging.judge_request(
                        summary.images, summary.base64_bytes, the_model.images_per_request
                    )
                    if f.code not in ignored
                ]
            report.finish(summary)
        if chosen in (Format.jsonl, Format.csv):  # their records have no place for these
            for f in summary.request_findings:
                common.error(f"as one request, these images fail ({f.code.value}): {f.message}")
    except sources.UsageError as exc:
        common.input_error(exc)
    except _OutputIsInput as exc:  # found by a walk or a glob: nothing was written
        common.usage_error(_OUTPUT_IS_INPUT.format(output=output, input=exc), "--output")
    except OSError as exc:  # the --output file could not be written
        if common.is_closed_pipe(exc) or output is None:
            raise
        advice = fsutil.write_advice(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):  # making its folder
            advice = "a part of its path is a file, not a folder: choose another place"
        common.error(f"cannot write {output} ({fsutil.os_reason(exc)}): {advice}.")
        raise typer.Exit(ExitStatus.FAILED) from None
    failed = summary.error > 0 or bool(summary.request_findings)
    if strict and summary.warning:
        failed = True
    raise typer.Exit(ExitStatus.FAILED if failed else ExitStatus.OK)


def _as_one_request(checked: list[inspecting.Checked]) -> list[inspecting.Checked]:
    """``--request``'s records, judged as if more than 20 images (the inputs listed) were sent,
    once every input is read: when 20 or fewer of them are images (the others missing, or not
    images), the 2000 px rule of larger requests does not hold, and its findings go."""
    if sum(rec.width is not None for _, rec, _, _ in checked) > limits.MANY_IMAGES_THRESHOLD:
        return checked
    kept = []
    for item, rec, data, line in checked:
        findings = tuple(
            f for f in rec.findings if f.code is not judging.Code.MANY_IMAGE_DIMENSIONS
        )
        if findings != rec.findings:
            rec, line = rec._replace(findings=findings), None  # its JSON line is made again
        kept.append((item, rec, data, line))
    return kept


def _report(fmt: Format, quiet: bool, stream: TextIO, model: str, env: Environment) -> InspectSink:
    if fmt is Format.html:
        from vision_cli.render.html import HtmlReport

        return HtmlReport(stream, model=model, quiet=quiet, clock=env.clock)
    from vision_cli.render.inspect import InspectReport

    return InspectReport(fmt, quiet=quiet, stream=stream)
