"""Make the book's goalkeeper dataset: where a goalkeeper's long kick comes down, and which team heads it.

    python data/football/make_dataset.py      # writes train.csv and test.csv next to this script

The goalkeeper chapter re-tells a well-known exercise of Andrew Ng's deep learning course (the "French
football" problem). The course's ``data.mat`` cannot ship with the book, so this script makes a dataset of
the same kind from scratch, with a fixed seed:

* A point is where the ball was headed, in pitch coordinates measured in half pitch lengths: ``x1`` runs
  from -1 (our goal line, where the goalkeeper kicks from) to +1, ``x2`` from -0.65 to +0.65 (a 105 m x 68 m
  pitch). Kicks land uniformly in ``x1`` in [-0.8, 0.4], ``x2`` in [-0.6, 0.6].
* ``label`` is 1 when one of our players won the header, 0 when an opponent did. Our players win above a
  wavy line (:func:`boundary`); near the line the duel is a coin toss (logistic noise with width
  ``TEMPERATURE``), and a fraction ``FLIP`` of headers anywhere go the other way (a slip, a deflection).

The noise is what an unregularized network overfits. The files are plain CSV with four decimals, so their
SHA-256 checksums (in README.md) do not depend on the platform.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy

SEED = 2014
N_TRAIN = 200
N_TEST = 200
TEMPERATURE = 0.02
FLIP = 0.08
HERE = Path(__file__).resolve().parent


def boundary(x1: numpy.ndarray) -> numpy.ndarray:
    """The height ``x2`` of the line above which our players win the header."""
    return 0.35 * x1 + 0.18 * numpy.sin(7 * x1 + 0.6) - 0.05


def sample(n: int, rng: numpy.random.Generator) -> tuple[numpy.ndarray, numpy.ndarray]:
    """``n`` landing points (n, 2) and who won each header (n,) of 0/1."""
    points = numpy.column_stack([rng.uniform(-0.8, 0.4, n), rng.uniform(-0.6, 0.6, n)])
    margin = points[:, 1] - boundary(points[:, 0])
    ours = rng.random(n) < 1 / (1 + numpy.exp(-margin / TEMPERATURE))
    slip = rng.random(n) < FLIP
    return points.round(4), (ours ^ slip).astype(int)


def write_csv(path: Path, points: numpy.ndarray, labels: numpy.ndarray) -> str:
    """Write ``x1,x2,label`` rows and return the file's SHA-256."""
    rows = [f"{x1:.4f},{x2:.4f},{label}" for (x1, x2), label in zip(points, labels, strict=True)]
    path.write_text("x1,x2,label\n" + "\n".join(rows) + "\n", encoding="ascii")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    rng = numpy.random.default_rng(SEED)
    for name, n in (("train.csv", N_TRAIN), ("test.csv", N_TEST)):
        points, labels = sample(n, rng)
        digest = write_csv(HERE / name, points, labels)
        print(f"{digest}  {name}  ({n} points, {labels.mean():.2f} ours)")


if __name__ == "__main__":
    main()
