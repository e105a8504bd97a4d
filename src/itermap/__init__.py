"""itermap: recurrent against feed-forward networks at equal parameter budgets."""

from itermap._lazy import lazy

__version__ = "0.2.0"

_LAZY = {
    "run_study": "itermap.study.runner",
    "load_results": "itermap.analysis.results",
    "study_info": "itermap.analysis.results",
    "analyze": "itermap.analysis.studies:analyze_studies",
}

__getattr__ = lazy(__name__, _LAZY)  # run_study, load_results, study_info, analyze, imported on first use

__all__ = ["__version__", "analyze", "load_results", "run_study", "study_info"]
