"""Input views against hand-built examples: a 4x5 image whose pixel (r, c) holds 10*r + c."""

from __future__ import annotations

import pytest
import torch

from itermap.data.views import flat, repeat, scale, steps_of, windows

# Two images [2, H=4, W=5]; the second is the first plus 100, so the image axis is checked too.
IMAGE = torch.tensor([[10 * r + c for c in range(5)] for r in range(4)], dtype=torch.uint8)
X = torch.stack([IMAGE, IMAGE + 100])


def col(c: int) -> list[int]:
    """Column c of IMAGE, top to bottom."""
    return [10 * r + c for r in range(4)]


def row(r: int) -> list[int]:
    """Row r of IMAGE, left to right."""
    return [10 * r + c for c in range(5)]


def test_flat_is_row_major() -> None:
    out = flat(X)
    assert out.shape == (2, 20)
    assert out[0].tolist() == row(0) + row(1) + row(2) + row(3)
    assert out[1].tolist() == [v + 100 for v in out[0].tolist()]


def test_column_windows_drop() -> None:
    out = windows(X, width=2, axis="columns", remainder="drop")
    assert out.shape == (2, 2, 8)  # 5 columns // 2 = 2 steps of 2 columns x 4 rows; column 4 dropped
    assert out[0].tolist() == [col(0) + col(1), col(2) + col(3)]
    assert out[1, 1].tolist() == [v + 100 for v in col(2) + col(3)]


def test_column_windows_pad() -> None:
    out = windows(X, width=2, axis="columns", remainder="pad")
    assert out.shape == (2, 3, 8)
    assert out[0].tolist() == [col(0) + col(1), col(2) + col(3), col(4) + [0, 0, 0, 0]]


def test_row_windows() -> None:
    out = windows(X, width=2, axis="rows")
    assert out.shape == (2, 2, 10)  # 4 rows: 2 steps of 2 rows x 5 columns, nothing left over
    assert out[0].tolist() == [row(0) + row(1), row(2) + row(3)]
    dropped = windows(X, width=3, axis="rows", remainder="drop")
    assert dropped[0].tolist() == [row(0) + row(1) + row(2)]
    padded = windows(X, width=3, axis="rows", remainder="pad")
    assert padded[0].tolist() == [row(0) + row(1) + row(2), row(3) + [0] * 10]


def test_width_one_columns_transposes() -> None:
    assert torch.equal(windows(X, width=1), X.transpose(1, 2))


def test_reference_protocol_shape() -> None:
    """28 columns read 3 at a time: 9 steps of 84 inputs, the last column dropped."""
    x = torch.arange(2 * 28 * 28).reshape(2, 28, 28)
    out = windows(x, width=3)
    assert out.shape == (2, 9, 84) and steps_of(28, 3) == 9
    assert torch.equal(out[:, 8, :28], x[:, :, 24])  # last step starts with column 24
    assert not torch.isin(x[:, :, 27], out).any()
    assert windows(x, width=3, remainder="pad").shape == (2, steps_of(28, 3, "pad"), 84) == (2, 10, 84)


def test_repeat_is_the_flat_image_at_every_step_without_a_copy() -> None:
    out = repeat(X, 3)
    assert out.shape == (2, 3, 20)
    for t in range(3):
        assert torch.equal(out[:, t], flat(X))
    assert out.stride(1) == 0


def test_scale() -> None:
    out = scale(torch.tensor([[[0, 255]]], dtype=torch.uint8), mean=0.5, std=0.25)
    assert out.dtype == torch.float32 and out.shape == (1, 1, 2)
    assert out.tolist() == [[[-2.0, 2.0]]]
    assert scale(X, 0.0, 1.0, dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"width": 0}, "between 1 and 5"),
        ({"width": 6}, "between 1 and 5"),
        ({"axis": "diagonal"}, "axis must be"),
        ({"width": 2, "remainder": "wrap"}, "remainder must be"),
        ({"width": 5, "remainder": "wrap"}, "remainder must be"),  # rejected even when nothing is left over
    ],
)
def test_bad_arguments(kwargs: dict, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        windows(X, **kwargs)
