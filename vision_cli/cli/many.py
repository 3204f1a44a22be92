"""``vision-cli ask --each`` and ``vision-cli ask --batch``: one request per image, results in a
JSONL file, resumable.

Thin, like the other commands: :mod:`vision_cli.cli.ask` parses the options (their groups, and how
they combine, are in :mod:`vision_cli.cli.ask_groups`) and builds the settings; the work is done
by :mod:`vision_cli.bulk`; this module shows progress, prints the summary and chooses the exit
status.

Exit status: 0 every image answered (or answered before); 1 some images failed (preflight, or the
API refused them: their lines hold the error) while the others were done, or the results file
(or the batch state file) could not be written; 2 usage (also: the results file is in use by
another run, or is not a results file); 3 an API or network failure stopped the whole run (a bad
key, batches that cannot be created); 130 interrupted.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import typer

from vision_cli import catalog, limits
from vision_cli.cli import common, sending
from vision_cli.cli.ask_groups import ManyOptions, SendOptions, ShowOptions
from vision_cli.exitcodes import ExitStatus
from vision_cli.render.text import n_images, visible

if TYPE_CHECKING:
    from vision_cli import sources
    from vision_cli.asking import preparing
    from vision_cli.bulk import plan
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.summary import EachSummary, Note
    from vision_cli.environment import Environment


def run(
    opts: ManyOptions,
    send: SendOptions,
    show: ShowOptions,
    items: list[sources.Input | sources.Problem],
    settings: preparing.Settings,
    prompt: str | None,
) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import preparing
    from vision_cli.bulk import plan
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.records import OutputError, WriteError

    env = common.env()
    output = None if opts.output is None or str(opts.output) == "-" else opts.output
    config = plan.Config(
        settings=settings,
        prompt=prompt or preparing.default_prompt(1),
        output=output,
        jobs=opts.jobs or plan.DEFAULT_JOBS,
        rerun=opts.rerun,
        max_retries=send.max_retries,
        timeout=send.timeout,
        cache=None if send.no_cache else common.file_cache(env, readonly=show.dry_run),
        vars=env.vars,
        clock=env.clock,
    )
    retired = opts.batch and settings.model.retired and not show.dry_run
    if retired and not _batches_waiting(config):
        common.note_lifecycle(settings.model, sending=True, origin=common.from_environment("model"))
    try:
        jobs = plan.read_jobs(
            items, settings, threads=config.jobs, offline=show.dry_run, stdin=env.stdin_bytes
        )
    except KeyboardInterrupt:
        common.error("interrupted while reading the images: nothing was sent")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    if show.dry_run:
        try:
            dry_run(jobs, config, batch=opts.batch, json=show.json, quiet=show.quiet)
        except KeyboardInterrupt:
            common.fail("interrupted: nothing was sent", ExitStatus.INTERRUPTED)
        return
    log = ResultsLog(config.output, stream=env.stdout)
    try:
        log.open()
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    try:
        with sending.sdk_log():
            summary = _run(jobs, config, log, opts, show.quiet)
    except WriteError as exc:  # a full disk: not a usage error
        common.fail(str(exc), ExitStatus.FAILED)
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    except KeyboardInterrupt:  # before the requests began (the runs handle it after)
        common.fail(
            "interrupted before any request was sent: the results file is as it was",
            ExitStatus.INTERRUPTED,
        )
    finally:
        log.close()
    if summary.stdout_closed:
        common.stdout_closed()
    _report(summary, config, opts, show)
    raise typer.Exit(_status(summary))


def _batches_waiting(config: plan.Config) -> bool:
    """Whether the state file holds batches not collected yet (a retired model still collects
    them: collecting names no model)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk.records import OutputError
    from vision_cli.bulk.state import BatchState

    try:
        state = BatchState.load(config.state_path, config.output or config.state_path)
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    return bool(state.uncollected() or state.unconfirmed())


def _note(quiet: bool, env: Environment) -> Note:
    """Notes on the run's stderr (from the workers' threads too, which have no typer context)."""
    if quiet:
        return lambda message: None
    return functools.partial(common.note, run=env)


def _run(
    jobs: list[plan.Job], config: plan.Config, log: ResultsLog, opts: ManyOptions, quiet: bool
) -> EachSummary:
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk import plan
    from vision_cli.bulk.each import EachRun
    from vision_cli.bulk.records import answered
    from vision_cli.render import bars

    env = common.env()
    note = _note(quiet, env)
    show = env.stderr_isatty and not quiet
    if log.cut:
        common.warn(
            f"{config.output}: cut a torn last line ({log.cut:,} bytes) left by a run that "
            "stopped while writing it (killed, or the disk was full); that image is asked again"
        )
    if opts.batch:
        # lazy: start-up, --help imports none of these
        from vision_cli.bulk.batch import BatchRun
        from vision_cli.bulk.state import BatchState

        assert config.output is not None
        state = BatchState.load(config.state_path, config.output)
        retired = config.settings.model.retired
        if retired:
            note(
                f"{config.settings.model_name} was retired: the batches submitted before are "
                "collected, and nothing new is submitted with it"
            )
        with bars.bulk_progress("batches", enabled=show, stream=env.stderr) as update:
            run = BatchRun(
                config,
                log,
                state,
                no_wait=opts.no_wait,
                progress=update,
                note=note,
                created=functools.partial(common.note, run=env),
                warn=functools.partial(common.warn, run=env),
                may_submit=not retired,
            )
            summary = run.run(jobs)
    else:
        entries = log.entries()
        done = answered(entries, config.settings.model_name, config.prompt_sha256)
        waiting = _waiting(config)
        the_plan = plan.plan(jobs, done, rerun=config.rerun, in_batches=waiting)
        if the_plan.skipped:
            note(f"{n_images(len(the_plan.skipped))} answered before: skipped (--rerun asks again)")
        if the_plan.in_batches:
            note(
                f"{n_images(len(the_plan.in_batches))} waiting in a batch of "
                f"{config.state_path}: pending, not sent again (--batch collects them)"
            )
        with bars.bulk_progress("asking", enabled=show, stream=env.stderr) as update:
            warn = functools.partial(common.warn, run=env)
            each = EachRun(config, log, progress=update, note=note, warn=warn)
            summary = each.run(the_plan)
    if log.ignored:
        common.warn(f"{config.output}: {log.ignored:,} lines are not results and were ignored")
    return summary


def _waiting(config: plan.Config) -> set[tuple[str, str | None]]:
    """The images of this model and prompt waiting in the batches of the results file's state
    file (none for standard output): ``--each`` holds them back as ``--batch`` does, or they
    would be paid for twice. OutputError (a damaged state file)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk.state import BatchState

    if config.output is None:
        return set()
    state = BatchState.load(config.state_path, config.output)
    return state.waiting(config.settings.model_name, config.prompt_sha256)


def _status(summary: EachSummary) -> ExitStatus:
    if summary.interrupted:
        return ExitStatus.INTERRUPTED
    if summary.stopped is not None:
        return ExitStatus.API
    if summary.refused:  # the model was retired: collected, but nothing new submitted
        return ExitStatus.USAGE
    if summary.failed or summary.write_error is not None:
        return ExitStatus.FAILED
    return ExitStatus.OK


def _report(
    summary: EachSummary, config: plan.Config, opts: ManyOptions, show: ShowOptions
) -> None:
    """Errors first, then the summary on stderr (unless --quiet), and --json's object on stdout."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.client import keys

    if summary.stopped is not None:
        common.error(keys.redact(str(summary.stopped)))
    if summary.write_error is not None:
        common.error(summary.write_error)
    if summary.refused:
        # lazy: start-up, --help imports none of these
        from vision_cli import lifecycle

        origin = common.from_environment("model")
        common.error(lifecycle.refusal(config.settings.model, source=origin))
    where = str(config.output) if config.output is not None else "standard output"
    state = str(config.state_path) if opts.batch else None
    if show.json:
        doc = {
            **summary.as_dict(),
            "model": config.settings.model_name,
            "output": where,
            "state_file": state,
            "batches": summary.batches,
        }
        common.echo(render.dumps(doc))
    elif opts.no_wait and summary.batches and not summary.interrupted:
        common.echo(state or "")
    if show.quiet:
        return
    s = summary
    prices = "batch prices (50% off)" if opts.batch else "the model's prices"
    lines = [
        f"{n_images(s.images)}: {s.succeeded:,} answered, {s.failed:,} failed, "
        f"{s.skipped:,} skipped (answered before), {s.pending:,} pending",
        f"{s.input_tokens:,} input and {s.output_tokens:,} output tokens: "
        f"{render.money(s.cost_usd)} at {prices} for {config.settings.model_name} "
        f"(prices of {catalog.load().date})",
        f"results: {where}",
    ]
    if opts.batch and s.batches and not s.failed_run:  # a stop says what to do instead
        noun = "batch is" if len(s.batches) == 1 else "batches are"
        lines.append(
            f"{len(s.batches)} {noun} still running ({n_images(s.pending)}; ids in {state}): "
            "run the same command again to collect the answers"
        )
    elif s.interrupted and s.pending - s.in_batches:
        left = s.pending - s.in_batches
        lines.append(
            f"interrupted: {n_images(left)} not answered; run the same command again to go on"
        )
    elif s.failed_run and s.pending - s.in_batches:
        lines.append(
            f"stopped: {n_images(s.pending - s.in_batches)} not answered; once the error is "
            "fixed, the same command goes on"
        )
    elif s.failed and not opts.batch:
        lines.append("run the same command again to retry the images that failed")
    if not opts.batch and s.in_batches:
        lines.append(
            f"{n_images(s.in_batches)} waiting in a batch (ids in {config.state_path}): "
            "run the same command with --batch to collect the answers"
        )
    if s.refused:
        lines.append(
            f"{n_images(s.refused)} not submitted: {config.settings.model_name} was retired "
            "(the batches submitted before were collected)"
        )
    for line in lines:
        common.note(line)


# --------------------------------------------------------------------------------------------------
# --dry-run
# --------------------------------------------------------------------------------------------------


def _batches(rows: list[plan.PlanRow]) -> int:
    """How many batches these requests would be split into."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk.batch import chunks

    return sum(1 for _ in chunks(rows, lambda r: r.request_bytes))


def dry_run(
    jobs: list[plan.Job], config: plan.Config, *, batch: bool, json: bool, quiet: bool
) -> None:
    """The plan: what would be sent, skipped or held back, each request's estimate, the total.
    Reads the results file (and the batch state file) but writes nothing and sends nothing."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.bulk import plan
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.records import OutputError, answered

    log = ResultsLog(config.output)  # read only: nothing is written in a dry run
    try:
        entries = log.entries()
        waiting = _waiting(config)  # --each holds them back too
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    done = answered(entries, config.settings.model_name, config.prompt_sha256)
    the_plan = plan.plan(jobs, done, rerun=config.rerun, in_batches=waiting)
    order = {job.label: index for index, job in enumerate(jobs)}
    rows = sorted(plan.dry_run(the_plan, config, batch=batch), key=lambda r: order[r.path])
    sent = [r for r in rows if r.action == "send"]
    input_cost = sum(r.input_cost_usd for r in sent)
    max_cost = sum(r.input_cost_usd + r.max_output_cost_usd for r in sent)
    totals: dict[str, Any] = {
        "images": len(rows),
        "send": len(sent),
        "skip": sum(r.action == "skip" for r in rows),
        "pending": sum(r.action == "pending" for r in rows),
        "fail": sum(r.action == "fail" for r in rows),
        "input_tokens": sum(r.input_tokens or 0 for r in sent),
        "input_cost_usd": round(input_cost, 10),
        "max_cost_usd": round(max_cost, 10),
        "batches": _batches(sent) if batch else 0,
        "model": config.settings.model_name,
        "prices_date": catalog.load().date,
        "batch_discount": limits.BATCH_DISCOUNT if batch else None,
    }
    if json:
        common.echo(render.dumps({"images": [r.as_dict() for r in rows], "summary": totals}))
    else:
        _dry_run_lines(rows, totals, config, batch=batch, quiet=quiet)
    if totals["fail"]:  # the one --dry-run rule: the real run would fail those images too
        raise typer.Exit(ExitStatus.FAILED)


def _dry_run_lines(
    rows: list[plan.PlanRow],
    totals: dict[str, Any],
    config: plan.Config,
    *,
    batch: bool,
    quiet: bool,
) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render

    for r in rows:
        if r.action == "send":
            detail = f"≈ {r.input_tokens:,} input tokens" if r.input_tokens else ""
        elif r.action == "fail":
            detail = r.error or ""
        elif r.action == "skip":
            detail = "answered before"
        else:
            detail = "waiting in a submitted batch"
        # names and errors came from outside: never obeyed or split by the terminal
        common.echo(f"{r.action:<7} {visible(r.path)}  {visible(detail)}".rstrip())
    if quiet:
        return
    prices = "at batch prices (50% off)" if batch else "at the model's prices"
    batches = totals["batches"]
    split = f" in {batches} batch{'' if batches == 1 else 'es'}" if batch and batches else ""
    common.note(
        f"dry run: {n_images(totals['send'])} to send{split}, {totals['skip']:,} skipped, "
        f"{totals['pending']:,} waiting in batches, {totals['fail']:,} failing preflight"
    )
    common.note(
        f"estimate {prices} for {config.settings.model_name} (prices of "
        f"{totals['prices_date']}): ≈ {totals['input_tokens']:,} input tokens, "
        f"≈ {render.money(totals['input_cost_usd'])} input, at most "
        f"{render.money(totals['max_cost_usd'])} with "
        "--max-tokens of output each"
    )
