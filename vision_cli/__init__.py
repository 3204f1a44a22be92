"""vision-cli: check, fix, price and send images for Claude's vision API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vision-cli")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"
