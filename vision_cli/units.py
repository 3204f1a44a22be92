"""PURE: the units a user types and reads: bytes (``5MB``, ``3.7 MiB``), durations (``7d``),
sizes (``1024x768``) and dollars.
"""

from __future__ import annotations

import math
from fractions import Fraction

from vision_cli.policy import Size

_BYTE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1024,
    "KIB": 1024,
    "M": 1024**2,
    "MB": 1024**2,
    "MIB": 1024**2,
    "G": 1024**3,
    "GB": 1024**3,
    "GIB": 1024**3,
}


#: The smallest size that may be written without a unit: below it, a unit was surely forgotten.
MIN_BARE_BYTES = 1024


def parse_bytes(text: str) -> int:
    """Parse ``5MB``, ``10 MiB``, ``750KB`` or ``5242880`` into bytes (1 MB = 1,048,576 bytes,
    as the API counts). A number without a unit is bytes and must be at least 1 KB. Raises
    ValueError with a sentence on anything else."""
    s = text.strip().upper().replace("_", "").replace(",", "")
    number = s.rstrip("KMGIB ")
    unit = s[len(number) :].strip()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size: use a number of bytes or e.g. 5MB") from None
    if unit not in _BYTE_UNITS or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} is not a size: use a number of bytes or e.g. 5MB")
    if not unit and value < MIN_BARE_BYTES:  # `--max-bytes 5` is surely not five bytes
        raise ValueError(
            f"{text!r} without a unit is {text.strip()} bytes, below 1 KB: write the unit, "
            f"e.g. {number}MB (a bare number must be at least {MIN_BARE_BYTES})"
        )
    return int(value * _BYTE_UNITS[unit])


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Parse ``7d``, ``12h``, ``90m``, ``2w``, ``3600s`` or ``3600`` into whole seconds.
    Raises ValueError with a sentence on anything else."""
    s = text.strip().lower().replace(" ", "")
    unit = s[-1:] if s[-1:] in _DURATION_UNITS else "s"
    number = s[:-1] if s[-1:] in _DURATION_UNITS else s
    try:
        if not number.isascii():  # Fraction reads any script's digits (``١h``)
            raise ValueError(number)
        value = Fraction(number)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a duration: use e.g. 7d, 12h, 90m or 3600s") from None
    if value <= 0:
        raise ValueError(f"{text!r} is not a duration: use e.g. 7d, 12h, 90m or 3600s")
    return math.ceil(value * _DURATION_UNITS[unit])


def format_duration(seconds: int) -> str:
    """``7d``, ``36h``, ``90m``, ``45s``: the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _DURATION_UNITS[unit] == 0:
            return f"{seconds // _DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"


def format_bytes(n: int) -> str:
    """``5 MB``, ``1.5 MB``, ``730 KB``, ``12 B`` (binary units, as the API counts)."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            value = n / size
            return (
                f"{value:.0f} {unit}"
                if value == int(value) or value >= 100
                else f"{value:.1f} {unit}"
            )
    return f"{n} B"


def format_usd(amount: float) -> str:
    """Money for people: cents from $0.01 up, else at least two significant digits ($0.00016)."""
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    digits = 1 - math.floor(math.log10(abs(amount)))
    text = f"{amount:.{digits}f}".rstrip("0")
    return "$" + (text if not text.endswith(".") else text + "0")


def parse_size(text: str) -> Size:
    """Parse ``1920x1080`` (also ``1920X1080``, ``1920*1080``)."""
    for sep in ("x", "X", "*", "×"):
        if sep in text:
            left, _, right = text.partition(sep)
            try:
                w, h = int(left), int(right)
            except ValueError:
                break
            if w >= 1 and h >= 1:
                return (w, h)
            break
    raise ValueError(f"{text!r} is not a size: use WIDTHxHEIGHT, e.g. 1920x1080")
