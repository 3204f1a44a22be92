"""``vision-cli ask`` and ``vision-cli compare``: images to Claude, the way the guide recommends.

Thin: the options are declared in :mod:`vision_cli.cli.ask_options` (one declaration serves both
commands), the work is done by :mod:`vision_cli.asking` (preflight, request, cost) and
:mod:`vision_cli.cli.sending` (the call), many images by :mod:`vision_cli.cli.many`, and the
output by :mod:`vision_cli.render`. Nothing heavy is imported until the command runs; the SDK only
when something is really sent.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from vision_cli import names
from vision_cli.cli import common, options
from vision_cli.cli.ask_options import (
    DEFAULT_EXPIRES,
    MANY_PARAMETERS,
    AllowDownsizeOpt,
    AskJsonOpt,
    AskPriceOpt,
    AskQuietOpt,
    BatchOpt,
    ConversationOpt,
    DownloadOpt,
    DryRunOpt,
    EachOpt,
    ExpiresOpt,
    JobsOpt,
    MaxRetriesOpt,
    MaxTokensOpt,
    NoCacheOpt,
    NoResizeOpt,
    NoWaitOpt,
    PolicyOpt,
    PromptFileOpt,
    PromptOpt,
    RerunOpt,
    ResultsOpt,
    SchemaOpt,
    SourceOpt,
    SystemOpt,
    TemperatureOpt,
    TimeoutOpt,
    VerifyOpt,
)
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import ResizePolicy, Source

if TYPE_CHECKING:
    from vision_cli.asking import answering, building, fitting, preparing
    from vision_cli.cli.ask_groups import AskOptions

EXIT_LINE = (
    "Exit status: 0 answered; 1 preflight failed and nothing was sent, or an answer does not "
    "match --schema, or an output could not be written; 2 usage error (a missing "
    "ANTHROPIC_API_KEY too); 3 API or network error; 130 interrupted."
)

ASK_HELP = (
    SUMMARY["ask"] + "\n\n"
    "Each image is read, turned upright, shrunk to the model's native size, converted to a "
    "format the API takes and fitted under the byte limit, in memory. The request is built as "
    'the guide recommends: images first, "Image N:" before each when there are several, then '
    "the prompt. The answer streams to stdout; a usage table (tokens, the images' share, cost) "
    "follows on stderr.\n\n"
    "With --each or --batch, every image is asked about on its own and the answers go to a "
    "JSONL file (--output), one line per image; running the same command again resumes.\n\n"
    "Needs ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL is honoured), except with --dry-run.\n\n"
    + EXIT_LINE
    + " With --each and --batch: 1 some images failed (their lines say why) and the others were "
    "answered; 3 the API stopped the whole run."
)

ASK_EPILOG = """Examples:

  vision-cli ask photo.jpg

  vision-cli ask chart.png -p "What is the trend?" --model claude-opus-4-7

  vision-cli ask scan.png --dry-run | jq .messages

  vision-cli ask a.png b.png -p "How are these different?" --conversation chat.json

  vision-cli ask c.png d.png -p "Are these like the first two?" --conversation chat.json

  cat question.txt | vision-cli ask shot.png -p - --json | jq -r .text

  vision-cli ask photos/ --each -j 8 -p "Caption this photo." -o captions.jsonl

  vision-cli ask scans/ --batch -p "Transcribe the text." -o scans.jsonl --no-wait
"""

COMPARE_HELP = (
    SUMMARY["compare"] + "\n\n"
    'The same as ask with at least two images, each introduced by "Image N:", and the default '
    'prompt "How are these images different?". Every option of ask applies.\n\n' + EXIT_LINE
)

COMPARE_EPILOG = """Examples:

  vision-cli compare before.png after.png

  vision-cli compare v1.png v2.png v3.png -p "Which layout reads best, and why?"
"""


ImagesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Two or more images: files, folders, globs, http(s) URLs, - for standard "
        "input, or clip: for the clipboard.",
        metavar="IMAGE",
        show_default=False,
    ),
]


def _command(*, compare: bool) -> Callable[..., None]:
    """``ask`` (``compare=False``) or ``compare``: one declaration of their parameters, and of
    how the options are built from them; compare's signature is cut from it (:func:`_compare`)."""

    def command(
        inputs: options.InputsArg = None,
        prompt: PromptOpt = None,
        prompt_file: PromptFileOpt = None,
        system: SystemOpt = None,
        model: options.ModelOpt = None,
        max_tokens: MaxTokensOpt = 1024,
        temperature: TemperatureOpt = None,  # refused by its callback, so always None here
        schema: SchemaOpt = None,
        max_retries: MaxRetriesOpt = None,
        timeout: TimeoutOpt = None,
        policy: PolicyOpt = ResizePolicy.native,
        no_resize: NoResizeOpt = False,
        verify: VerifyOpt = True,
        snap: options.SnapOpt = False,
        snap_max: options.SnapMaxOpt = options.DEFAULT_SNAP_MAX,
        tile: options.TileOpt = None,
        tile_overlap: options.TileOverlapOpt = None,
        trim: options.TrimOpt = False,
        trim_fuzz: options.TrimFuzzOpt = options.DEFAULT_TRIM_FUZZ,
        source: SourceOpt = Source.auto,
        download: DownloadOpt = False,
        no_cache: NoCacheOpt = False,
        expires: ExpiresOpt = DEFAULT_EXPIRES,
        json_flag: AskJsonOpt = False,
        quiet: AskQuietOpt = False,
        dry_run: DryRunOpt = False,
        conversation: ConversationOpt = None,
        max_bytes: options.MaxBytesOpt = options.DEFAULT_MAX_BYTES,
        price: AskPriceOpt = None,
        allow_downsize: AllowDownsizeOpt = False,
        files_from: options.FilesFromOpt = None,
        null: options.NullOpt = False,
        exclude: options.ExcludeOpt = None,
        hidden: options.HiddenOpt = False,
        allow_private_urls: options.AllowPrivateUrlsOpt = False,
        clipboard: options.ClipboardOpt = False,
        each: EachOpt = False,
        batch: BatchOpt = False,
        output: ResultsOpt = None,
        jobs: JobsOpt = None,
        rerun: RerunOpt = False,
        no_wait: NoWaitOpt = False,
    ) -> None:
        # lazy: start-up, --help does not create the groups' dataclasses (~0.5 ms each)
        from vision_cli.cli import ask_groups, groups

        many_opts = ask_groups.ManyOptions(each, batch, output, jobs, rerun, no_wait)
        opts = ask_groups.AskOptions(
            compare=compare,
            inputs=groups.input_options(
                inputs, files_from, null, exclude, hidden, allow_private_urls, clipboard
            ),
            model=model,
            price=price,
            prompt=ask_groups.PromptOptions(
                prompt, prompt_file, system, max_tokens, schema, conversation
            ),
            images=ask_groups.ImageOptions(
                policy=policy,
                no_resize=no_resize,
                verify=verify,
                source=source,
                download=download,
                expires=expires,
                max_bytes=max_bytes,
                allow_downsize=allow_downsize,
                savers=groups.SaverOptions(snap, snap_max, tile, tile_overlap, trim, trim_fuzz),
            ),
            send=ask_groups.send_options(max_retries, timeout, no_cache, many=many_opts.active),
            show=ask_groups.ShowOptions(json_flag, quiet, dry_run),
            many=many_opts,
        )
        run(opts)

    return command


def _compare(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` as typer should see compare: its images are ``IMAGE``, and the options of
    --each and --batch are left out (their defaults apply)."""
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name not in MANY_PARAMETERS]
    kept[0] = kept[0].replace(annotation=ImagesArg)
    command.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in kept} | {"return": None}
    return command


def _named(command: Callable[..., None], name: str) -> Callable[..., None]:
    command.__name__ = command.__qualname__ = name
    return command


ask = _named(_command(compare=False), "ask")
compare = _named(_compare(_command(compare=True)), "compare")


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


def _preflight_failed(
    exc: preparing.PreflightError, status: ExitStatus = ExitStatus.FAILED
) -> NoReturn:
    # lazy: start-up, --help imports none of these
    from vision_cli.client import keys

    for failure in exc.failures:
        common.error(keys.redact(str(failure)))
    raise typer.Exit(status)


def _read_prompt(opts: AskOptions) -> str | None:
    # lazy: start-up, --help imports none of these
    from vision_cli import sources

    if opts.prompt.prompt is not None and opts.prompt.prompt_file is not None:
        common.usage_error("give the prompt with -p/--prompt or --prompt-file, not both")
    if opts.prompt.prompt == sources.STDIN:
        listed = opts.inputs.selection.files_from
        if sources.STDIN in opts.inputs.inputs or listed == sources.STDIN:
            common.usage_error(
                "`-p -` and the image `-` (or `--files-from -`) both want standard input: put the "
                "prompt in a file "
                "and use --prompt-file",
                "--prompt",
            )
        text: str | None = common.env().stdin.read()
    elif opts.prompt.prompt_file is not None:
        from vision_cli import fsutil, limits  # lazy: start-up, only this option reads a file

        try:
            text = fsutil.read_small_text(
                opts.prompt.prompt_file, limits.MESSAGES_REQUEST_MAX_BYTES
            )
        except OSError as exc:
            why = fsutil.file_error(exc)
            common.usage_error(f"cannot read {opts.prompt.prompt_file}: {why}", "--prompt-file")
        except ValueError as exc:  # too long, or not UTF-8
            common.usage_error(f"cannot read {opts.prompt.prompt_file} ({exc})", "--prompt-file")
    else:
        text = opts.prompt.prompt
    if text is not None and not text.strip():
        common.usage_error("the prompt is empty", "--prompt")
    return text.strip() if text is not None else None


def run(opts: AskOptions) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import sources
    from vision_cli.asking import building, conversations, fitting, preparing
    from vision_cli.cli import many, sending
    from vision_cli.client import connect, failures

    opts.check()
    prompt = _read_prompt(opts)
    history = conversations.Conversation()
    if opts.prompt.conversation is not None and str(opts.prompt.conversation) == "-":
        common.usage_error(
            "a conversation is a file vision-cli reads and writes back: give its name (- is "
            "not one)",
            "--conversation",
        )
    if opts.prompt.conversation is not None:
        try:
            history = conversations.load_conversation(opts.prompt.conversation)
        except preparing.PreflightError as exc:
            _preflight_failed(exc, ExitStatus.USAGE)  # the file named by an option is unusable
    model_name = opts.model or history.model
    saved = opts.model is None and history.model is not None
    the_model = common.resolve_model(
        model_name,
        sending=True,
        price=opts.price,
        saved_in=f"--conversation {opts.prompt.conversation}" if saved else None,
        # --batch collects the batches it submitted before refusing a retired model
        defer_retired=opts.many.batch and not opts.show.dry_run,
    )
    try:
        items = list(
            sources.iter_inputs(opts.inputs.inputs, opts.inputs.selection, common.env().stdin_bytes)
        )
    except sources.UsageError as exc:
        common.input_error(exc)
    if opts.compare and len(items) < 2:
        common.usage_error(
            f"compare needs at least two images, and {len(items)} given: use ask for one",
            "IMAGE",
        )
    if not items and opts.prompt.conversation is None:
        named = list(opts.inputs.inputs)
        if opts.inputs.selection.files_from is not None:
            named.append(opts.inputs.selection.files_from)
        if named:  # a folder with no image in it, an empty --files-from list (usage_error
            # shows the names escaped)
            where = ", ".join(map(str, named))
            common.usage_error(f"no image found in {where}: nothing to ask about", "INPUTS")
        common.usage_error("give at least one image, folder, glob, URL or -", "INPUTS")
    if not items and prompt is None:
        common.usage_error("a turn without images needs a prompt (-p)", "--prompt")
    settings = preparing.Settings(
        model=the_model,
        model_name=common.model_name(model_name),
        max_tokens=opts.prompt.max_tokens,
        system=opts.prompt.system if opts.prompt.system is not None else history.system,
        resize_policy=opts.images.policy,
        resize=not opts.images.no_resize,
        source=opts.images.source,
        download=opts.images.download,
        max_bytes=common.max_bytes(opts.images.max_bytes),
        schema=common.load_schema(opts.prompt.schema),
        oversized="downsize" if opts.images.allow_downsize or opts.images.no_resize else "error",
        verify=opts.images.verify,
        expires=opts.images.expiry_seconds(),
        snap_max=opts.images.savers.snap_share(),
        tile=opts.images.savers.tile_spec(),
        trim_fuzz=opts.images.savers.trim_level(),
    )
    if (settings.tile is not None or opts.images.savers.trim) and opts.images.no_resize:
        common.usage_error("--tile and --trim change the image: drop --no-resize", "--no-resize")
    try:
        preparing.check_sources(items, settings)
    except sources.UsageError as exc:
        common.usage_error(str(exc), "--source")
    if not opts.show.dry_run:
        try:
            connect.check_setup(common.env().vars)
        except failures.SetupError as exc:
            common.fail(str(exc), ExitStatus.USAGE)
        sending.import_sdk_early()
    if opts.many.active:
        many.run(opts.many, opts.send, opts.show, items, settings, prompt)
        return
    if opts.prompt.conversation is not None and not opts.show.dry_run:
        _check_writable(opts.prompt.conversation)

    cache = (
        None if opts.send.no_cache else common.file_cache(common.env(), readonly=opts.show.dry_run)
    )
    try:
        images = fitting.preflight(
            items,
            settings,
            earlier_images=history.images,
            stdin=common.env().stdin_bytes,
            offline=opts.show.dry_run,
        )
        text = prompt or preparing.default_prompt(len(images), compare=opts.compare)

        def build(files: building.Files) -> building.Request:
            return building.build_request(
                images,
                settings,
                prompt=text,
                conversation=history,
                files=files,
                stream=opts.streams,
            )

        request = build(building.cached_files(images, cache))
        building.check_request(request, settings)
    except preparing.PreflightError as exc:
        _preflight_failed(exc)
    if not opts.show.quiet and not opts.show.json:
        _notes(images)
    if opts.show.dry_run:
        _dry_run(request, settings, opts)
        return
    save = None
    if opts.prompt.conversation is not None:
        save = functools.partial(_save, opts.prompt.conversation, settings)
    # saved as soon as the answer is complete: before a failure of stdout is reported
    answer, _sent = sending.send(opts, settings, request, build, cache, on_answer=save)
    _output(answer, opts)


def _save(
    path: Path,
    settings: preparing.Settings,
    answer: answering.Answer,
    sent: building.Request,
) -> None:
    """Append this turn and its answer to the conversation in ``path``."""
    from vision_cli.asking import conversations  # lazy: start-up, as the asking modules in run()

    if not answer.reply.text.strip():
        # The API takes no empty (or blank) text block and no empty turn: saved, the conversation
        # could not be continued. The turn is left out, the file as it was.
        common.warn(
            f"the answer is empty, so this turn is not saved in {path} (the API takes no empty "
            "turn): the conversation is as it was"
        )
        return
    try:
        conversations.save_conversation(
            path, sent, answer.reply, model_name=settings.model_name, system=settings.system
        )
    except OSError as exc:
        common.fail(
            f"the answer was received but the conversation could not be saved ({path}): "
            f"{exc.strerror or exc}",
            ExitStatus.FAILED,
        )


def _check_writable(path: Path) -> None:
    from vision_cli import fsutil  # lazy: start-up, as the asking modules in run()

    try:
        target = fsutil.output_target(path)  # where the answer will be saved: a link's target
    except OSError:
        target = fsutil.Target(path)
    if target.stream:
        return  # a device or FIFO is written into, its folder untouched
    folder = target.path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        common.fail(
            f"cannot write the conversation ({path}): its folder is missing or read-only",
            ExitStatus.FAILED,
        )


def _notes(images: tuple[fitting.Image, ...]) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli.render.ask import ask_image_line

    for image in images:
        common.note(ask_image_line(image))
        for warning in image.warnings:
            common.warn(f"{image.label}: {warning}")


def _dry_run(request: building.Request, settings: preparing.Settings, opts: AskOptions) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.asking import pricing
    from vision_cli.client import bodies
    from vision_cli.render.ask import ask_estimate

    body = bodies.shorten_base64(request.body)
    est = pricing.estimate(request, settings)
    # a URL source's user:password@ is the one secret a body may hold: never shown
    if opts.show.json:
        doc = render.dumps({"request": body, "estimate": est.as_dict()})
        common.echo(names.without_credentials(doc))
        return
    common.echo(names.without_credentials(render.dumps(body)))
    if not opts.show.quiet:
        ask_estimate(est, stream=common.env().stderr)


def _output(answer: answering.Answer, opts: AskOptions) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.asking import answering
    from vision_cli.render.ask import ask_usage

    if opts.show.json:
        common.echo(render.dumps(answer.as_dict()))
    elif answer.structured and answer.mismatch is None:
        common.echo(render.dumps(answer.data))
    if not opts.show.quiet and not opts.show.json:
        ask_usage(answer, stream=common.env().stderr)
    if answer.mismatch is not None:
        stop = answer.reply.stop_reason
        message = answering.mismatch_message(answer.mismatch, stop)
        text = " ".join(answer.reply.text.split())
        shown = text if len(text) <= 200 else text[:199] + "…"
        common.fail(
            f"{message}; {answering.mismatch_advice(stop)}. The answer: {shown!r}",
            ExitStatus.FAILED,
        )
