"""The commands: where each lives in ``cli/`` and the one-paragraph summary the listing shows.

Light on purpose (no imports): ``cli/app.py`` imports only the module of the command a run
invokes, and ``vision-cli --help`` lists every command from these summaries without importing
any. Each command's ``--help`` starts with its summary (the modules build ``HELP`` from it), so
the listing and the command always say the same.
"""

from __future__ import annotations

#: Command name -> (its module of ``cli/``, the function, the prefix of its ``HELP``/``EPILOG``
#: in that module), in the order the listing shows them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "inspect": ("inspect", "inspect", ""),
    "resize": ("resize", "resize", ""),
    "estimate": ("estimate", "estimate", ""),
    "ask": ("ask", "ask", "ASK_"),
    "compare": ("ask", "compare", "COMPARE_"),
    "locate": ("locate", "locate", ""),
    "results": ("results", "results", ""),
    "models": ("models", "models", ""),
}

#: Groups of subcommands: name -> (its module of ``cli/``, the ``typer.Typer`` in it), listed
#: after the commands.
GROUPS: dict[str, tuple[str, str]] = {"files": ("files", "files_app")}

SUMMARY: dict[str, str] = {
    "inspect": "Check images before they are sent: what they are, whether the API takes them, "
    "what they cost.",
    "resize": "Shrink, rotate, convert and clean images so the API takes them as they are.",
    "estimate": "What images will cost, before anything is sent: tokens and USD per image and "
    "per N images, for one model or several side by side.",
    "ask": "Ask Claude about images: checked, fixed and priced before they are sent.",
    "compare": "Ask Claude how two or more images differ.",
    "locate": "Find things in images and give their boxes on the original's pixel grid.",
    "results": "Summarise or export a results file of ask --each, ask --batch or locate.",
    "models": "The models vision-cli knows: id, aliases, line, tier (the largest image edge and "
    "token budget the model sees unshrunk), images per request, input/output/batch prices, "
    "lifecycle with its dates, and where each fact came from (the bundled table or a refresh).",
    "files": "List and delete the images uploaded with --source file (Files API).",
}
