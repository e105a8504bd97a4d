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
- Adam keeps its step count on the device (`trainer.adam(..., capturable=True)`);
- no graph is destroyed during a capture (CUDA forbids it and invalidates the capture): a finished pack's graph is
  freed by reference counting when its trainer is dropped, as the replay keeps no reference to its trainer, and the
  cyclic GC, which could free some other graph at any moment, runs before a capture and not during it (`gc_paused`);
  a pack dropping its graph waits for a capture under way in another thread to end (`release`);
- one capture at a time in the process: `torch.cuda.graph` syncs the device and empties the allocator's cache as it
  starts, which fails while another thread captures (packs side by side, study/side_by_side.py), so captures take
  turns (`_capturing`); the other threads go on launching and replaying on their own streams meanwhile;
- each thread warms up and captures on a stream of its own (`side_stream`): PyTorch hands out its 32 pool streams
  round robin, so a new stream per pack would, after 32 packs, be a stream another thread launches on, and a capture
  on it would record that thread's kernels.
A batch narrower than the widest seen (an epoch's shorter last one) runs eagerly, and is never the one captured.
"""

from __future__ import annotations

import gc
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

WARMUP = 3  # eager steps before capture

Step = Callable[[torch.Tensor], torch.Tensor]  # step(idx) -> losses


_pausing = threading.Lock()
_paused = [0, True]  # blocks open (packs side by side can be in several threads at once), the GC's state before
# Held through a capture, and while a graph is dropped; re-entrant: the collection before a capture may finalize a
# finished pack whose graph is dropped then (before the capture begins, which is safe).
_capturing = threading.RLock()
_local = threading.local()  # this thread's side stream on each device
# Eager steps before a capture run with capturable=True Adam, which warns that it is; once here: a filter set per
# call (warnings.catch_warnings) is not safe in threads.
warnings.filterwarnings("ignore", "This instance was constructed with capturable=True")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage now, then run no collection until the block ends; the GC's enabled state is restored when the
    last of the blocks open in any thread ends (packs side by side capture at once: study/side_by_side.py)."""
    with _pausing:
        if _paused[0] == 0:
            gc.collect()
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _pausing:
            _paused[0] -= 1
            if _paused[0] == 0 and _paused[1]:
                gc.enable()


def side_stream() -> torch.cuda.Stream:
    """This thread's stream for eager steps and captures: its current stream where that is its own (each thread of
    packs side by side has one), else a side stream made once for the thread and device (a capture cannot record the
    default stream)."""
    current = torch.cuda.current_stream()
    if current != torch.cuda.default_stream(current.device):
        return current
    sides = _local.__dict__.setdefault("sides", {})  # device index -> stream
    if current.device_index not in sides:
        sides[current.device_index] = torch.cuda.Stream(current.device)
    return sides[current.device_index]


class Replay:
    """A training step run eagerly for `WARMUP` steps, captured at the next, then replayed for every batch of that
    size."""

    def __init__(self) -> None:
        # The step comes with every call instead of being kept here: a kept `trainer.eager_step` would make trainer ->
        # replay -> trainer a cycle, which only the cyclic GC frees, at a moment of its choosing, perhaps while
        # another pack is being captured, where destroying this graph invalidates that capture.
        self.steps_taken = 0
        self.widest = 0  # the widest batch seen: the one to capture
        self.graph: torch.cuda.CUDAGraph | None = None
        self.idx = self.loss = torch.empty(0)  # the graph's static input and output, once captured

    def __call__(self, step: Step, idx: torch.Tensor) -> torch.Tensor:
        """`step` on the examples `idx` [M or 1, B], always the same step for one replay; returns the losses [M]."""
        self.steps_taken += 1
        self.widest = max(self.widest, idx.shape[-1])
        if self.graph is not None and idx.shape == self.idx.shape:
            self.idx.copy_(idx)
            self.graph.replay()
            return self.loss.clone()  # the static output is overwritten by the next replay
        if self.steps_taken <= WARMUP or self.graph is not None or idx.shape[-1] < self.widest:
            return self.eager(step, idx)
        return self.capture(step, idx)

    def eager(self, step: Step, idx: torch.Tensor) -> torch.Tensor:
        """The step as is, on this thread's side stream (where warm-up before a capture must run)."""
        side = side_stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            loss = step(idx)
        torch.cuda.current_stream().wait_stream(side)
        return loss

    def capture(self, step: Step, idx: torch.Tensor) -> torch.Tensor:
        """Record the step on `idx`'s batch size into a graph, then replay it once: recording runs nothing."""
        self.idx, self.graph = idx.clone(), torch.cuda.CUDAGraph()
        # PyTorch no longer collects before a capture (pytorch#161037); a collection during it could free a dropped
        # pack's graph (say one left in a cycle by a caller) mid-capture. thread_local: the other threads' calls are
        # not checked against this capture (they launch on their own streams meanwhile), only this thread's.
        with (
            _capturing,
            gc_paused(),
            torch.cuda.graph(self.graph, stream=side_stream(), capture_error_mode="thread_local"),
        ):
            self.loss = step(self.idx)
        self.graph.replay()
        return self.loss.clone()

    def release(self) -> None:
        """Drop the graph now, when no other thread is capturing (its end would invalidate their capture)."""
        with _capturing:
            self.graph = None
