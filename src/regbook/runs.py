"""Runs over seeds: mean ± std (computed here and nowhere else), paired comparisons, and the registry of the
chapters' headline experiments that ``python -m regbook reproduce`` runs.

A chapter registers its experiment in a ``#@save`` cell, so the notebook and the CLI call the same function::

    from regbook.runs import experiment

    @experiment("dropout-mlp", "Dropout chapter: ...", seeds=3, epochs=5)
    def dropout_mlp(seeds=3, epochs=5, progress=True) -> dict:
        ...
        return {"experiment": "dropout-mlp", "results": [{...}, ...]}

The returned dict is JSON-serialisable and holds a list ``results`` of flat rows; :func:`format_table`
prints it. The library never imports a chapter: the CLI imports every module of ``regbook.chapters`` by
name when it needs the list (:func:`regbook.cli.experiments`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy


def mean_std(values) -> tuple:
    """Mean and sample standard deviation (ddof=1; 0 for a single run) over axis 0 of ``values``.

    Plain floats for a 1-d sequence (one value per seed), arrays for runs × points.
    """
    values = numpy.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("mean_std needs at least one run")
    std = values.std(axis=0, ddof=1) if len(values) > 1 else numpy.zeros_like(values[0])
    mean = values.mean(axis=0)
    if values.ndim == 1:
        return float(mean), float(std)
    return mean, std


def add_mean_std(row: dict, name: str, values) -> dict:
    """``row`` with ``<name>_mean`` and ``<name>_std`` over ``values`` (one per seed) added."""
    row[f"{name}_mean"], row[f"{name}_std"] = mean_std(values)
    return row


@dataclass
class Paired:
    """A paired comparison over seeds: ``treatment - baseline`` seed by seed."""

    gains: list[float]
    mean: float
    se: float

    @property
    def clear(self) -> bool:
        """The mean gain is more than 2 standard errors from zero."""
        return abs(self.mean) > 2 * self.se

    @property
    def verdict(self) -> str:
        """``better``/``worse`` when the gain is clear, ``–`` (no clear difference) otherwise."""
        if not self.clear:
            return "–"
        return "better" if self.mean > 0 else "worse"


def paired(treatment: Sequence[float], baseline: Sequence[float]) -> Paired:
    """Seed-by-seed gains of ``treatment`` over ``baseline``: mean and its standard error (std / sqrt n; infinite
    for a single seed, so that one seed never makes a clear verdict)."""
    treatment, baseline = numpy.asarray(treatment, float), numpy.asarray(baseline, float)
    if treatment.shape != baseline.shape or treatment.ndim != 1 or len(treatment) == 0:
        raise ValueError(f"paired() needs two equally long 1-d sequences, one value per seed; got shapes "
                         f"{treatment.shape} and {baseline.shape}")
    gains = treatment - baseline
    mean, std = mean_std(gains)
    se = std / math.sqrt(len(gains)) if len(gains) > 1 else math.inf  # one seed says nothing of the spread
    return Paired([float(g) for g in gains], mean, se)


def over_seeds(run: Callable[[int], object], seeds: Iterable[int], desc: str = "runs",
               progress: bool = True) -> list:
    """``[run(seed) for seed in seeds]`` with a progress bar on stderr."""
    from tqdm.std import tqdm

    seeds = list(seeds)
    return [run(seed) for seed in tqdm(seeds, desc=desc, unit="run", disable=not progress, file=sys.stderr,
                                       leave=False, dynamic_ncols=True)]


def summarize(histories: list, **extra) -> dict:
    """Final-epoch train/test accuracy and seconds per epoch of several :class:`regbook.training.History`."""
    row = dict(extra, seeds=len(histories), epochs=len(histories[0].test_acc))
    add_mean_std(row, "train_acc", [h.train_acc[-1] for h in histories])
    add_mean_std(row, "test_acc", [h.test_acc[-1] for h in histories])
    row["sec_per_epoch"] = float(numpy.mean([h.sec_per_epoch for h in histories]))
    return row


# --- the registry of headline experiments ------------------------------------------------------------


@dataclass
class Experiment:
    """A chapter's headline experiment as the CLI sees it."""

    name: str
    description: str
    run: Callable[..., dict]
    seeds: int | None = None
    epochs: int | None = None
    options: dict = field(default_factory=dict)  # extra CLI options: name -> (type, default, help)
    aliases: tuple[str, ...] = ()


REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, description: str, seeds: int | None = None, epochs: int | None = None,
               options: dict | None = None, aliases: Sequence[str] = ()):
    """Decorator registering ``run(seeds=..., epochs=..., progress=..., **options) -> dict`` under ``name``.

    ``seeds`` and ``epochs`` are the defaults the chapter uses (``None``: the experiment takes no such option).
    """

    def register(run: Callable[..., dict]) -> Callable[..., dict]:
        known = REGISTRY.get(name)
        if known is not None and known.run.__qualname__ != run.__qualname__:
            raise ValueError(f"experiment {name!r} is registered twice")
        REGISTRY[name] = Experiment(name, description, run, seeds, epochs, options or {}, tuple(aliases))
        return run

    return register


def all_experiments() -> dict[str, Experiment]:
    """Every chapter's headline experiment by name (aliases included), after importing each chapter module.

    The chapters register themselves with :func:`experiment` in a ``#@save`` cell; this finds them by importing
    every module of ``regbook.chapters`` by name (the library never imports a chapter statically).
    """
    import importlib
    import pkgutil

    package = importlib.import_module("regbook.chapters")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"regbook.chapters.{module.name}")
    found = dict(sorted(REGISTRY.items()))
    for exp in list(found.values()):
        found.update({alias: exp for alias in exp.aliases})
    return found


def format_table(result: dict) -> str:
    """A plain-text table of ``result['results']`` (floats with 4 decimals)."""
    rows = result.get("results", [])
    if not rows:
        return "(no results)"
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return f"{result.get('experiment', '')}\n" + "\n".join(lines)
