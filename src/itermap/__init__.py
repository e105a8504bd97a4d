"""itermap: recurrent against feed-forward networks at equal parameter budgets."""

__version__ = "0.1.0"

_LAZY = {
    "run_study": "itermap.study.runner",
    "load_results": "itermap.analysis.results",
    "study_info": "itermap.analysis.results",
}


def __getattr__(name: str):
    """`itermap.run_study`, `itermap.load_results`, `itermap.study_info`, imported on first use (keeps `import itermap` light)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'itermap' has no attribute {name!r}")


__all__ = ["__version__", "load_results", "run_study", "study_info"]
