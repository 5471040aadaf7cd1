"""The rnn-dropout chapter's headline experiment: six dropout placements in an LSTM forecasting sunspots."""

from __future__ import annotations

from regbook.experiments import experiment

SETTINGS = {"window": 10, "hidden_size": 32, "batch_size": 70, "lr": 0.02, "rate": 0.3}
"""The chapter's settings (``notebooks/rnn_dropout.ipynb`` imports them)."""
SEEDS, EPOCHS = 3, 20


@experiment("rnn-dropout", "Dropout in RNNs: six dropout placements in an LSTM, sunspot forecasting",
            seeds=SEEDS, epochs=EPOCHS, options={"rate": (float, SETTINGS["rate"], "drop probability of every method")})
def run(seeds: int, epochs: int, progress: bool = True, rate: float = SETTINGS["rate"]) -> dict:
    from mxnet import npx

    from regbook import rnn_dropout

    npx.set_np()
    rnn_dropout.use_one_omp_thread()
    data = rnn_dropout.sunspot_windows(SETTINGS["window"])
    runs = rnn_dropout.compare_methods(data, seeds=seeds, epochs=epochs, rate=rate,
                                       hidden_size=SETTINGS["hidden_size"], batch_size=SETTINGS["batch_size"],
                                       lr=SETTINGS["lr"], progress=progress)
    return {"experiment": "rnn-dropout", "settings": {**SETTINGS, "rate": rate, "epochs": epochs},
            "results": rnn_dropout.summarize(runs)}
