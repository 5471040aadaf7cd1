"""The dropout chapter's headline experiment: the 784-256-256-10 MLP on Fashion-MNIST over seeds."""

from __future__ import annotations

from regbook.experiments import experiment


@experiment("dropout-mlp", "Dropout chapter: MLP 784-256-256-10 on Fashion-MNIST, scratch vs Gluon vs no dropout",
            seeds=3, epochs=5)
def dropout_mlp(seeds: int, epochs: int, progress: bool = True) -> dict:
    """Train every variant with seeds 0..seeds-1; final-epoch accuracies as mean ± std, seconds per epoch."""
    import sys

    from tqdm.std import tqdm

    from regbook.nb.dropout import VARIANTS, train_dropout_mlp
    from regbook.training import summarize

    jobs = [(variant, seed) for variant in VARIANTS for seed in range(seeds)]
    histories: dict[str, list] = {variant: [] for variant in VARIANTS}
    for variant, seed in tqdm(jobs, desc="dropout-mlp runs", file=sys.stderr, disable=not progress):
        history, _ = train_dropout_mlp(variant, seed, num_epochs=epochs)
        histories[variant].append(history)
    return {"experiment": "dropout-mlp",
            "results": [summarize(runs, variant=variant) for variant, runs in histories.items()]}
