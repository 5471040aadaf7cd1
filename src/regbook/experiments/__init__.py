"""The headline experiment of each chapter, runnable headlessly by ``python -m regbook reproduce NAME``.

A chapter registers its experiment in a module of this package (one module per chapter)::

    from regbook.experiments import experiment

    @experiment("dropout-mlp", "Dropout chapter: MLP 784-256-256-10 on Fashion-MNIST", seeds=3, epochs=5)
    def dropout_mlp(seeds: int, epochs: int, progress: bool = True, **options) -> dict:
        ...
        return {"experiment": "dropout-mlp", "results": [{...}, ...]}

Every module in this package is imported by :func:`registry`, so a new chapter plugs in by adding a file.
The returned dict must be JSON-serialisable and hold a list ``results`` of flat rows (one per
variant/setting); :func:`format_table` prints it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Experiment:
    name: str
    description: str
    run: Callable[..., dict]
    seeds: int | None = None
    epochs: int | None = None
    options: dict = field(default_factory=dict)  # extra CLI options: name -> (type, default, help)


_REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, description: str, seeds: int | None = None, epochs: int | None = None,
               options: dict | None = None):
    """Decorator registering ``run(seeds=..., epochs=..., progress=..., **options) -> dict`` under ``name``."""

    def register(run: Callable[..., dict]) -> Callable[..., dict]:
        if name in _REGISTRY and _REGISTRY[name].run is not run:
            raise ValueError(f"experiment {name!r} is registered twice")
        _REGISTRY[name] = Experiment(name, description, run, seeds, epochs, options or {})
        return run

    return register


def registry() -> dict[str, Experiment]:
    """All experiments, after importing every module of this package."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def format_table(result: dict) -> str:
    """A plain-text table of ``result['results']`` (floats with 4 significant decimals)."""
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
