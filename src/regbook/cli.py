"""``python -m regbook``: reproduce a chapter's experiment, or check the data.

    python -m regbook reproduce --list
    python -m regbook reproduce dropout-mlp --seeds 3 --epochs 5 --json
    python -m regbook reproduce dropout-mlp --record runs.json
    python -m regbook data [--download]

Every failure ends with one line on stderr that says what was wrong and what to do: exit status 2 for a bad
argument, 1 for a failure while running, 130 for Ctrl-C. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from regbook import compat as _compat  # noqa: F401

MAX_SEEDS = 100
MAX_EPOCHS = 1000
MAX_COUNT = 10**6
"""Upper bounds of --seeds, --epochs and of any whole-number option without a range of its own."""


class UsageError(Exception):
    """A bad command line: exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (raised as :class:`UsageError`), not usage + exit."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def experiments() -> dict:
    """Every chapter's headline experiment by name, aliases included (:func:`regbook.runs.all_experiments`)."""
    from regbook import runs

    return runs.all_experiments()


# --- checking arguments before any work ----------------------------------------------------------------


def _in_range(name: str, value, low, high):
    if low is not None and value < low or high is not None and value > high:
        bounds = (f"between {low} and {high}" if low is not None and high is not None
                  else f"at least {low}" if low is not None else f"at most {high}")
        raise UsageError(f"--{name} must be {bounds}, got {value}")
    return value


def option_type(name: str, kind: type, bounds: tuple | None = None):
    """An argparse type for option ``--name``: whole numbers within ``bounds`` (default 1 to 10**6), finite
    floats within ``bounds`` (default any finite number), or text."""
    low, high = bounds if bounds is not None else ((1, MAX_COUNT) if kind is int else (None, None))

    def convert(text: str):
        if kind is int:
            try:
                value = int(text)
            except ValueError:
                raise UsageError(f"--{name} takes a whole number, got {text!r}") from None
            return _in_range(name, value, low, high)
        if kind is float:
            try:
                value = float(text)
            except ValueError:
                raise UsageError(f"--{name} takes a number, got {text!r}") from None
            if not math.isfinite(value):
                raise UsageError(f"--{name} must be a finite number, got {text!r}")
            return _in_range(name, value, low, high)
        return kind(text)

    convert.__name__ = kind.__name__
    return convert


def check_writable(path: str) -> Path:
    """``path`` if a file can be written there (its folder exists and is writable); else a UsageError."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"--record {path}: that is a folder; give a file name such as {target / 'runs.json'}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"--record {path}: the folder {folder} does not exist; create it or choose another path")
    import tempfile

    try:  # the real test: create (and remove) a file there; permission bits say nothing to root
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".regbook-check-"):
            pass
        if target.exists() and not os.access(target, os.W_OK):
            raise PermissionError
    except OSError as exc:
        reason = exc.strerror or "no permission"
        raise UsageError(f"--record {path}: cannot write there ({reason}); choose a path you can write to") from None
    return target


# --- the commands ------------------------------------------------------------------------------------


def _experiment_parser(exp) -> argparse.ArgumentParser:
    defaults = ", ".join(f"--{key} {getattr(exp, key)}" for key in ("seeds", "epochs")
                         if getattr(exp, key) is not None)
    parser = _Parser(
        prog=f"python -m regbook reproduce {exp.name}", description=exp.description,
        epilog=f"Common options: --seeds N, --epochs E (where the experiment has epochs), --json, --quiet, "
               f"--record FILE, --debug. Defaults: {defaults or 'none'}.")
    for option, spec in exp.options.items():
        kind, default, help_text = spec[:3]
        flag = option.replace("_", "-")
        parser.add_argument("--" + flag, type=option_type(flag, kind, spec[3] if len(spec) > 3 else None),
                            default=default, help=help_text)
    return parser


def _reproduce(args: argparse.Namespace, extra: list[str]) -> int:
    from regbook.data import write_atomically
    from regbook.runs import format_table

    by_name = experiments()
    primary = {name: exp for name, exp in by_name.items() if name == exp.name}
    if args.help and args.name not in by_name:
        args.help_parser.print_help()
        return 0
    if args.list or not args.name:
        if extra or (args.list and args.name):
            words = " ".join(([args.name] if args.name else []) + extra)
            raise UsageError(f"unrecognized arguments: {words} (--list takes no experiment name)")
        width = max(len(n) for n in primary)
        for name, exp in primary.items():
            print(f"{name.ljust(width)}  {exp.description}")
        return 0
    if args.name not in by_name:
        raise UsageError(f"unknown experiment {args.name!r}; choose one of: {', '.join(primary)} "
                         "(python -m regbook reproduce --list)")
    exp = by_name[args.name]
    option_parser = _experiment_parser(exp)
    if args.help:
        option_parser.print_help()
        return 0
    kwargs = dict(vars(option_parser.parse_args(extra)), progress=not args.json and not args.quiet)
    for key, limit in (("seeds", MAX_SEEDS), ("epochs", MAX_EPOCHS)):
        value = getattr(args, key)
        if value is not None:
            if getattr(exp, key) is None:
                raise UsageError(f"experiment {exp.name} takes no --{key}")
            kwargs[key] = _in_range(key, value, 1, limit)
        elif getattr(exp, key) is not None:
            kwargs[key] = getattr(exp, key)
    record = check_writable(args.record) if args.record else None
    result = exp.run(**kwargs)
    shown = {key: value for key, value in result.items() if key != "runs"}
    print(json.dumps(shown, indent=2, allow_nan=False) if args.json else format_table(shown))
    sys.stdout.flush()
    if record is not None:
        write_atomically(record, json.dumps(result, indent=1) + "\n")
        print(f"recorded every run in {record}", file=sys.stderr)
    return 0


def _data(args: argparse.Namespace) -> int:
    from regbook import data

    if args.download:
        data.fashion_mnist_files(download_missing=True)
    rows = data.report()
    for row in rows:
        status = "ok (checksum of decompressed content holds)" if row["ok"] else f"PROBLEM: {row['problem']}"
        print(f"fashion-mnist  {row['file']:<30} {row['path'] or '-'}  {status}")
    extra = _extra_datasets()
    for name, where in extra:
        print(f"{name:<13}  {where}")
    return 0 if all(r["ok"] for r in rows) else 1


def _extra_datasets() -> list[tuple[str, str]]:
    """Datasets that ship inside packages or the repository: name and where they come from."""
    from regbook.data import REPO_ROOT

    found = []
    for readme in sorted((REPO_ROOT / "data").glob("*/README.md")):
        if readme.parent.name != "fashion-mnist":
            found.append((readme.parent.name, str(readme.parent)))
    return found


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m regbook", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rep = sub.add_parser("reproduce", help="re-run a chapter's headline experiment and print its table",
                         add_help=False)
    rep.add_argument("-h", "--help", action="store_true",
                     help="show this help; after an experiment's name, that experiment's own options")
    rep.set_defaults(help_parser=rep)
    rep.add_argument("name", nargs="?", help="experiment name (see --list)")
    rep.add_argument("--list", action="store_true", help="name the experiments")
    rep.add_argument("--seeds", type=option_type("seeds", int, (1, MAX_SEEDS)),
                     help=f"number of random seeds (runs) to average over, 1 to {MAX_SEEDS}")
    rep.add_argument("--epochs", type=option_type("epochs", int, (1, MAX_EPOCHS)),
                     help=f"training epochs per run, 1 to {MAX_EPOCHS}")
    rep.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    rep.add_argument("--record", metavar="FILE",
                     help="also write the result with every run's details to FILE as JSON (checked first)")
    rep.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    dat = sub.add_parser("data", help="report where each dataset was found and that its checksum holds")
    dat.add_argument("--download", action="store_true", help="download what is missing (atomic, checksummed)")
    dat.add_argument("--debug", action="store_true", help="on an error, show the full traceback")
    return parser


def _run(argv: list[str] | None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "reproduce":
        return _reproduce(args, extra)
    if extra:
        raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see `python -m regbook data --help`)")
    return _data(args)


def _message(exc: BaseException) -> tuple[str, int]:
    """The one line a failure prints, and the exit status."""
    import errno

    from regbook.data import DataError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, UsageError):
        return f"error: {text}", 2
    if isinstance(exc, (ValueError, FileNotFoundError)):
        return f"error: {text}", 2
    if isinstance(exc, DataError):
        return f"error: {text}", 1
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        if exc.errno == errno.ENOSPC:
            return f"error: the disk is full{where}; free some space and run the command again", 1
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"error: no permission to write{where}; choose a location you can write to", 1
        if exc.errno == errno.EPIPE:
            return "error: the output was closed before everything was written", 1
        return f"error: {exc.strerror or text}{where}", 1
    return (f"error: {type(exc).__name__}: {text} (this is a bug in the book's code; run again with --debug "
            f"and report the traceback)"), 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("interrupted (Ctrl-C); no file was written", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BaseException as exc:
        if "--debug" in argv:
            raise
        line, status = _message(exc)
        if isinstance(exc, OSError):
            _silence_stdout()
        print(line, file=sys.stderr)
        return status


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
