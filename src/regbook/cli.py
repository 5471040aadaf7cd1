"""``python -m regbook``: reproduce a chapter's experiment, or check the data.

    python -m regbook reproduce --list
    python -m regbook reproduce dropout-mlp --seeds 3 --epochs 5 --json
    python -m regbook data [--download]
"""

from __future__ import annotations

import argparse
import json
import sys

from regbook import compat as _compat  # noqa: F401


def experiments() -> dict:
    """Every chapter's headline experiment by name (aliases included), after importing each chapter module.

    The chapters register themselves with :func:`regbook.runs.experiment` in a ``#@save`` cell; the CLI finds
    them by importing every module of ``regbook.chapters`` by name (the library never imports a chapter).
    """
    import importlib
    import pkgutil

    from regbook import runs

    package = importlib.import_module("regbook.chapters")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"regbook.chapters.{module.name}")
    found = dict(sorted(runs.REGISTRY.items()))
    for exp in list(found.values()):
        found.update({alias: exp for alias in exp.aliases})
    return found


def _reproduce(args: argparse.Namespace, extra: list[str]) -> int:
    from regbook.runs import format_table

    by_name = experiments()
    primary = {name: exp for name, exp in by_name.items() if name == exp.name}
    if args.help and args.name not in by_name:
        args.help_parser.print_help()
        return 0
    if args.list or not args.name:
        width = max(len(n) for n in primary)
        for name, exp in primary.items():
            print(f"{name.ljust(width)}  {exp.description}")
        return 0
    if args.name not in by_name:
        print(f"unknown experiment {args.name!r}; choose one of: {', '.join(primary)} "
              "(python -m regbook reproduce --list)", file=sys.stderr)
        return 2
    exp = by_name[args.name]
    defaults = ", ".join(f"--{key} {getattr(exp, key)}" for key in ("seeds", "epochs")
                         if getattr(exp, key) is not None)
    option_parser = argparse.ArgumentParser(
        prog=f"python -m regbook reproduce {exp.name}", description=exp.description,
        epilog=f"Common options: --seeds N, --epochs E (where the experiment has epochs), --json, --quiet. "
               f"Defaults: {defaults or 'none'}.")
    for option, (kind, default, help_text) in exp.options.items():
        option_parser.add_argument("--" + option.replace("_", "-"), type=kind, default=default, help=help_text)
    if args.help:
        option_parser.print_help()
        return 0
    options = vars(option_parser.parse_args(extra))
    kwargs = dict(options, progress=not args.json and not args.quiet)
    for key in ("seeds", "epochs"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                print(f"--{key} must be at least 1, got {value}", file=sys.stderr)
                return 2
            if getattr(exp, key) is None:
                print(f"experiment {exp.name} takes no --{key}", file=sys.stderr)
                return 2
            kwargs[key] = value
        elif getattr(exp, key) is not None:
            kwargs[key] = getattr(exp, key)
    result = exp.run(**kwargs)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def _data(args: argparse.Namespace) -> int:
    from regbook import data

    if args.download:
        try:
            data.fashion_mnist_files(download_missing=True)
        except data.DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regbook", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="re-run a chapter's headline experiment and print its table",
                         add_help=False)
    rep.add_argument("-h", "--help", action="store_true",
                     help="show this help; after an experiment's name, that experiment's own options")
    rep.set_defaults(help_parser=rep)
    rep.add_argument("name", nargs="?", help="experiment name (see --list)")
    rep.add_argument("--list", action="store_true", help="name the experiments")
    rep.add_argument("--seeds", type=int, help="number of random seeds (runs) to average over")
    rep.add_argument("--epochs", type=int, help="training epochs per run")
    rep.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")
    dat = sub.add_parser("data", help="report where each dataset was found and that its checksum holds")
    dat.add_argument("--download", action="store_true", help="download what is missing (atomic, checksummed)")
    args, extra = parser.parse_known_args(argv)
    if args.command == "reproduce":
        return _reproduce(args, extra)
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return _data(args)
