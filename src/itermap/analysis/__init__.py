"""Analysis of study results: aggregation over seeds, equal-parameter comparisons, verdicts.

The public names are imported on first use, so that `itermap.analysis.results` stays light.
"""

_LAZY = {
    "Analysis": "itermap.analysis.overview",
    "analyze": "itermap.analysis.overview",
    "final_metrics": "itermap.analysis.aggregate",
    "summarize": "itermap.analysis.aggregate",
    "compare_curves": "itermap.analysis.compare",
    "compare_matched": "itermap.analysis.compare",
    "holm": "itermap.analysis.compare",
    "probability_of_improvement": "itermap.analysis.compare",
}


def __getattr__(name: str):
    """`itermap.analysis.analyze` and the other public names, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'itermap.analysis' has no attribute {name!r}")


__all__ = sorted(_LAZY)
