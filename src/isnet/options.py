"""Command-line plumbing shared by every ``isnet`` command: the parser and checked option types.

Every value is checked when the command line is parsed, before any work starts: an
out-of-range value ends the command with one line on standard error and exit code 2,
never a traceback. The range types carry their bounds (``lo``, ``hi``) so the tests can
try a value outside each one.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from isnet.schemes import SchemeError, get_scheme

__all__ = [
    "ArgumentParser",
    "COUNT",
    "device",
    "FloatRange",
    "FRACTION",
    "HelpFormatter",
    "IntRange",
    "new_file",
    "NON_NEGATIVE",
    "POSITIVE",
    "POSITIVE_FLOAT",
    "scheme_spec",
    "SEED",
    "THREADS",
    "threads_or_none",
]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, lists as they are typed, except for on/off flags (off unless
    given) and options whose help already says what happens without them (default ``None``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 or action.default is None or "default:" in (action.help or ""):
            return action.help
        if isinstance(action.default, (list, tuple)):
            return f"{action.help} (default: {' '.join(map(str, action.default))})"
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` with help that shows every default and errors of one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        # argparse would print the whole usage first: for train that is thirty lines above the one that matters.
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class IntRange:
    """An ``int`` option in ``[lo, hi]`` (``hi=None``: no upper bound), plus ``special`` values allowed anyway."""

    def __init__(self, lo: int, hi: int | None = None, special: tuple[int, ...] = (), meaning: str = ""):
        self.lo, self.hi, self.special, self.meaning = lo, hi, special, meaning
        self.__name__ = "integer"  # argparse names the type in its message for non-numbers

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value in self.special:
            return value
        if value < self.lo or (self.hi is not None and value > self.hi):
            raise argparse.ArgumentTypeError(f"{self.describe()}, got {value}")
        return value

    def describe(self) -> str:
        allowed = f"at least {self.lo}" if self.hi is None else f"from {self.lo} to {self.hi}"
        extra = f" or {' or '.join(map(str, self.special))}" if self.special else ""
        return f"must be {allowed}{extra}{f' ({self.meaning})' if self.meaning else ''}"


class FloatRange:
    """A finite ``float`` option with ``lo <(=) value <(=) hi``; ``open_lo`` excludes ``lo`` itself."""

    def __init__(self, lo: float, hi: float | None = None, open_lo: bool = False):
        self.lo, self.hi, self.open_lo = lo, hi, open_lo
        self.__name__ = "number"

    def __call__(self, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= self.lo if self.open_lo else value < self.lo
        if not math.isfinite(value) or too_low or (self.hi is not None and value > self.hi):
            raise argparse.ArgumentTypeError(f"{self.describe()}, got {text}")
        return value

    def describe(self) -> str:
        low = f"above {self.lo:g}" if self.open_lo else f"at least {self.lo:g}"
        return f"must be {low}" if self.hi is None else f"must be {low} and at most {self.hi:g}"


POSITIVE = IntRange(1)
COUNT = IntRange(0)
THREADS = IntRange(0, meaning="0: the libraries' default")
SEED = IntRange(0)
FRACTION = FloatRange(0.0, 1.0)
NON_NEGATIVE = FloatRange(0.0)
POSITIVE_FLOAT = FloatRange(0.0, open_lo=True)


def device(text: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, refused when this machine has no such device."""
    if text in ("auto", "cpu"):
        return text
    kind, _, index = text.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    if not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: this machine has no CUDA device (use cpu or auto)")
    if index and int(index) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA devices")
    return text


def new_file(text: str) -> str:
    """A file to write: its folder must exist (a mistyped folder is not silently created)."""
    folder = Path(text).expanduser().parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, expected a file name")
    return text


def scheme_spec(text: str) -> str:
    """A built-in scheme's name or a scheme file (``.toml``), read and checked now."""
    try:
        get_scheme(text)
    except SchemeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("landmark scheme ", "")) from None
    return text


def threads_or_none(n: int) -> int | None:
    """``--threads`` to the libraries' argument: 0 means their own default (``None``)."""
    return n or None
