"""itermap: recurrent against feed-forward networks at equal parameter budgets."""

__version__ = "0.1.0"
