"""Exact conversions between forms of one network (forms.py), their verification (verify.py), and a study's
kept runs converted (stored.py). Beside `train` in the layers: it reads data and models, never a study."""

from itermap.convert.forms import (
    CONVERSIONS,
    Cost,
    Form,
    UnrolledRNN,
    convert,
    family_form,
    itermap_to_mlp,
    mlp_pattern,
    mlp_to_itermap,
    mlp_to_tanh_rnn,
    mlp_to_windows,
    mlp_windows_pattern,
    rnn_pattern,
    rnn_to_itermap,
    unrolled_form,
)
from itermap.convert.stored import convert_run, kept_weights, load_run, save
from itermap.convert.verify import Verification, demo, logits, scaled_test_split, table, verify

__all__ = [
    "CONVERSIONS",
    "Cost",
    "Form",
    "UnrolledRNN",
    "Verification",
    "convert",
    "convert_run",
    "demo",
    "family_form",
    "itermap_to_mlp",
    "kept_weights",
    "load_run",
    "logits",
    "mlp_pattern",
    "mlp_to_itermap",
    "mlp_to_tanh_rnn",
    "mlp_to_windows",
    "mlp_windows_pattern",
    "rnn_pattern",
    "rnn_to_itermap",
    "save",
    "scaled_test_split",
    "table",
    "unrolled_form",
    "verify",
]
