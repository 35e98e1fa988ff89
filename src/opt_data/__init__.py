"""opt-data: a daily, resumable collector of S&P 500 option data from Interactive Brokers."""

__version__ = "0.1.0"
