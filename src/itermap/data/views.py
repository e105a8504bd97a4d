"""Input views: how a family reads an image set. Images stay [N, H, W]; a view reshapes them."""

from __future__ import annotations

from typing import Literal

import torch


def scale(images: torch.Tensor, mean: float, std: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels [N, H, W] -> standardised floats ((x / 255) - mean) / std, same shape."""
    return (images.to(dtype) / 255.0 - mean) / std


def flat(x: torch.Tensor) -> torch.Tensor:
    """The whole image as one vector: [N, H, W] -> [N, H*W], row-major (pixel (r, c) at r*W + c)."""
    return x.reshape(x.shape[0], -1)


def windows(
    x: torch.Tensor,
    width: int = 3,
    axis: Literal["columns", "rows"] = "columns",
    remainder: Literal["drop", "pad"] = "drop",
) -> torch.Tensor:
    """The image as a sequence of strips `width` columns (or rows) wide: [N, H, W] -> [N, T, width*H].

    Columns: step t holds columns t*width .. t*width+width-1, and inside a step the element order is
    column-major: element k = j*H + r is row r of the step's j-th column (a column is read top to
    bottom, then the next column). With 28 columns and width 3: T = 9 steps of 84, column 27 dropped.
    Rows: the same with rows and columns swapped (element k = j*W + c), [N, T, width*W].
    remainder="pad" keeps the leftover columns by zero-padding the last strip instead of dropping it.
    """
    if axis == "columns":
        x = x.transpose(1, 2)  # [N, W, H]: one row per column of the image
    elif axis != "rows":
        raise ValueError(f"windows axis must be 'columns' or 'rows', not {axis!r}")
    if remainder not in ("drop", "pad"):
        raise ValueError(f"windows remainder must be 'drop' or 'pad', not {remainder!r}")
    n, lines, length = x.shape
    if width < 1 or width > lines:
        raise ValueError(f"window width must be between 1 and {lines}, not {width}")
    steps, extra = divmod(lines, width)
    if extra and remainder == "pad":
        x = torch.cat([x, x.new_zeros(n, width - extra, length)], dim=1)
        steps += 1
    return x[:, : steps * width].reshape(n, steps, width * length)


def repeat(x: torch.Tensor, steps: int) -> torch.Tensor:
    """The whole flat image at every step: [N, H, W] -> [N, T, H*W] (a stride-0 view, no copy)."""
    return flat(x).unsqueeze(1).expand(-1, steps, -1)


def steps_of(lines: int, width: int, remainder: str = "drop") -> int:
    """Number of windows `windows` makes from `lines` columns."""
    return lines // width if remainder == "drop" else -(-lines // width)
