"""The demonstrations behind ``rustrnn demo NAME``.

Each module trains on built-in data (:mod:`rustrnn.datasets`), evaluates on
held-out data never used in training, prints the results and returns them as
a dict from ``run(...)``:

- :mod:`.sentiment`: movie-review sentiment (Embedding + LSTM), accuracy;
- :mod:`.generate`: a character-level model of Shakespeare, nats/char and samples;
- :mod:`.forecast`: air passengers, the last 24 months against the seasonal naive forecast;
- :mod:`.g2p`: spelling to sound on CMUdict (Seq2Seq), phoneme and word error rates;
- :mod:`.layers`: an LSTM forward and backward pass on random data, with timing.
"""
