"""vision-cli: check, fix, price and send images for Claude's vision API."""

from __future__ import annotations

#: The distribution's name on the package index. Not ``vision-cli``: that name belongs to an
#: unrelated tool that installs a ``vision_cli`` package too, so the two must never share an
#: environment.
DISTRIBUTION = "claude-vision-cli"
#: The unrelated distribution that would overwrite this package if installed beside it.
CONFLICTING_DISTRIBUTION = "vision-cli"


def __getattr__(name: str) -> str:
    # importlib.metadata costs ~35 ms to import: only --version and bug reports pay for it
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(DISTRIBUTION)
        except PackageNotFoundError:  # a source tree that was not installed
            return "0+unknown"
    raise AttributeError(name)
