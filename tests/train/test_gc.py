"""Garbage collection around CUDA graphs, the parts that run on the CPU (test_capture.py has the GPU's): a finished
pack is freed by reference counting, and a capture runs with the cyclic GC paused."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from itermap.train import PackTrainer, TrainConfig
from itermap.train.capture import Replay, gc_paused

from .test_trainer import WIDE, toy_data


class Node:
    """An object that can be weakly referenced and put in a cycle."""


def test_finished_trainer_is_freed_by_reference_counting():
    """A pack that ran an epoch, holding a replay as a capturing pack does, goes as soon as it is dropped: no cycle
    waits for the cyclic GC, which could otherwise destroy its CUDA graph during another pack's capture."""
    torch.optim.Adam([torch.zeros(1)])  # a process's first optimizer leaves a cycle of PyTorch's (trainer.adam)
    gc.disable()
    try:
        trainer = PackTrainer(WIDE["rnn"], TrainConfig(epochs=1, batch_size=24), [3, 4, 5], toy_data())
        trainer.run_epoch()
        # capture=True is refused off CUDA; load_state_dict builds the replay the way a capturing trainer does, and
        # Replay() needs no CUDA until it is called.
        trainer.capture = True
        trainer.load_state_dict(trainer.state_dict())
        assert isinstance(trainer.replay, Replay)
        freed, replay = weakref.ref(trainer), weakref.ref(trainer.replay)
        del trainer
        assert freed() is None and replay() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_collects_then_pauses_and_restores(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        garbage = Node()
        garbage.cycle = garbage
        freed = weakref.ref(garbage)
        del garbage
        with gc_paused():
            assert freed() is None  # collected on entry, even with the GC disabled
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
        with pytest.raises(KeyError), gc_paused():
            raise KeyError("step failed")
        assert gc.isenabled() == enabled  # restored on an error too
    finally:
        (gc.enable if was else gc.disable)()
