"""Analysis of study results: aggregation over seeds, equal-parameter comparisons, verdicts.

The public names are imported on first use, so that `itermap.analysis.results` stays light.
"""

from itermap._lazy import lazy

_LAZY = {
    "Analysis": "itermap.analysis.overview",
    "analyze": "itermap.analysis.overview",
    "analyze_studies": "itermap.analysis.studies",
    "final_metrics": "itermap.analysis.aggregate",
    "summarize": "itermap.analysis.aggregate",
    "compare_curves": "itermap.analysis.compare",
    "compare_matched": "itermap.analysis.compare",
    "holm": "itermap.analysis.paired",
    "iqm": "itermap.analysis.intervals",
    "mean_ci": "itermap.analysis.intervals",
    "difference_ci": "itermap.analysis.paired",
    "max_t_band": "itermap.analysis.band",
    "convergence": "itermap.analysis.convergence",
    "probability_of_improvement": "itermap.analysis.paired",
    "improvement_interval": "itermap.analysis.paired",
    "min_detectable_effect": "itermap.analysis.power",
    "seeds_needed": "itermap.analysis.power",
    "t_power": "itermap.analysis.power",
    "tost": "itermap.analysis.power",
    "variance_components": "itermap.analysis.variance:components",
    "Group": "itermap.analysis.results",
}

__getattr__ = lazy(__name__, _LAZY)

__all__ = sorted(_LAZY)
