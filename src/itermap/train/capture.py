"""A pack's training step on CUDA, captured once as a CUDA graph and replayed for every later batch of its size.

A pack of small models is launch-bound on a GPU: one step is tens (MLP) to hundreds (2-layer RNN over 9 steps,
forward and backward) of tiny kernels, each costing a few microseconds to launch, far more than its arithmetic.
A CUDA graph records the step's kernels once (the minibatch gather by index, forward, backward, fused Adam) and
replays them all with one launch. The kernels and their order are those of the eager step, so a replayed step
computes what the eager one would.

What capture needs (see the CUDA graphs section of the PyTorch docs), and how it is met here:
- warm-up steps run eagerly on a side stream before capture: they are the pack's real first steps, so nothing
  extra is trained (`WARMUP`); they also create Adam's state, which capture must find in place;
- inputs in static memory: the batch's example indices are copied into `idx` before each replay, and the step
  gathers its rows from the data on the device;
- grads are None when capture starts (the step zeroes them with set_to_none), so the captured backward writes
  them rather than adding to them, and every replay writes them afresh;
- Adam keeps its step count on the device (`trainer.adam(..., capturable=True)`).
A batch of another size (an epoch's shorter last one) runs eagerly; replays resume after it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

WARMUP = 3  # eager steps before capture


class Replay:
    """`step(idx) -> losses` run eagerly for `WARMUP` steps, captured at the next, then replayed for every batch of
    that size."""

    def __init__(self, step: Callable[[torch.Tensor], torch.Tensor]):
        self.step, self.steps = step, 0
        self.side: torch.cuda.Stream | None = None  # where eager steps run
        self.graph: torch.cuda.CUDAGraph | None = None
        self.idx = self.loss = torch.empty(0)  # the graph's static input and output, once captured

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        """One training step on the examples `idx` [M or 1, B]; returns the losses [M]."""
        self.steps += 1
        if self.graph is not None and idx.shape == self.idx.shape:
            self.idx.copy_(idx)
            self.graph.replay()
            return self.loss.clone()  # the static output is overwritten by the next replay
        if self.steps <= WARMUP or self.graph is not None:
            return self.eager(idx)
        return self.capture(idx)

    def eager(self, idx: torch.Tensor) -> torch.Tensor:
        """The step as is, on a side stream (as warm-up before a capture must run)."""
        side = self.side = self.side or torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "This instance was constructed with capturable=True")  # it will be
            loss = self.step(idx)
        torch.cuda.current_stream().wait_stream(side)
        return loss

    def capture(self, idx: torch.Tensor) -> torch.Tensor:
        """Record the step on `idx`'s batch size into a graph, then replay it once: recording runs nothing."""
        self.idx, self.graph = idx.clone(), torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss = self.step(self.idx)
        self.graph.replay()
        return self.loss.clone()
