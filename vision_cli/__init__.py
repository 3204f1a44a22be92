"""vision-cli: check, fix, price and send images for Claude's vision API."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # importlib.metadata costs ~35 ms to import: only --version and bug reports pay for it
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("vision-cli")
        except PackageNotFoundError:  # a source tree that was not installed
            return "0+unknown"
    raise AttributeError(name)
