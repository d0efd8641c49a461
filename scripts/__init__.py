"""The repository's scripts; ``scripts.stack`` is the development stack behind them."""
