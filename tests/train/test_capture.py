"""The CUDA path: a captured, replayed training step against the eager one and against the CPU.

These need a CUDA GPU and are skipped without one (CI has none); run them on a GPU machine with
`python -m pytest tests/train/test_capture.py`.
"""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
import torch

from itermap.models import MLPConfig, RNNConfig, SparseConfig, UnrolledConfig
from itermap.train import PackTrainer, TrainConfig
from itermap.train.capture import WARMUP, side_stream

from .test_trainer import WIDE, toy_data

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PACKS = {  # members' configs (a wide pack: three widths), seeds and loss
    "mlp": ([MLPConfig(hidden=[16, 16])] * 3, [0, 1, 2], "last"),
    "rnn": ([RNNConfig(hidden=8, layers=2, window=4)] * 3, [0, 1, 2], "last"),
    "rnn-every-step": ([RNNConfig(hidden=8, window=4)] * 2, [0, 1], "every-step"),  # step weights made on the GPU
    "sparse": ([SparseConfig(hidden=12, fraction=0.5)] * 2, [0, 1], "last"),  # masks copied to the GPU once
    "unrolled": ([UnrolledConfig(hidden=8, depth=3, tied=True)] * 2, [0, 1], "last"),
    "wide": (WIDE["rnn"], [3, 4, 5], "last"),
}


def trained(kind: str, device: str, capture: bool, dtype: str, epochs: int = 2):
    cfgs, seeds, loss = PACKS[kind]
    train = TrainConfig(epochs=epochs, batch_size=24, lr=1e-2, dtype=dtype, eval_train_every=1, loss=loss)
    trainer = PackTrainer(cfgs, train, seeds, toy_data(), device, capture=capture)  # 320 = 13 x 24 + 8 per epoch
    rows = [r for _ in range(epochs) for r in trainer.run_epoch()]
    return trainer, {(r.member, r.epoch, r.split, r.metric): r.value for r in rows}


@pytest.mark.parametrize("kind", sorted(PACKS))
def test_replayed_steps_equal_eager_steps(kind):
    """float32 on the GPU: every row and weight of a captured pack within 1e-5 of the same pack stepped eagerly."""
    replayed, rows = trained(kind, "cuda", True, "float32")
    eager, want = trained(kind, "cuda", False, "float32")
    assert replayed.replay is not None and replayed.replay.graph is not None and replayed.replay.steps_taken > WARMUP
    assert rows.keys() == want.keys() and rows == pytest.approx(want, rel=1e-5, abs=1e-6)
    for i in range(len(replayed.seeds)):
        for k, v in eager.member_params(i).items():
            torch.testing.assert_close(replayed.member_params(i)[k], v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(PACKS))
def test_gpu_pack_equals_cpu_pack_in_float64(kind):
    gpu, rows = trained(kind, "cuda", True, "float64")
    cpu, want = trained(kind, "cpu", False, "float64")
    assert rows == pytest.approx(want, rel=1e-9, abs=1e-12)
    for k, v in cpu.member_params(0).items():
        torch.testing.assert_close(gpu.member_params(0)[k], v, rtol=1e-9, atol=1e-12)


def test_resumed_captured_pack_gives_identical_rows():
    cfgs, seeds, _ = PACKS["rnn"]
    train = TrainConfig(epochs=3, batch_size=24, lr=1e-2, eval_train_every=1)
    straight = PackTrainer(cfgs, train, seeds, toy_data(), "cuda")
    rows = [straight.run_epoch() for _ in range(3)]
    first = PackTrainer(cfgs, train, seeds, toy_data(), "cuda")
    first.run_epoch()
    resumed = PackTrainer(cfgs, train, seeds, toy_data(), "cuda")
    resumed.load_state_dict(first.state_dict())
    later = [resumed.run_epoch() for _ in range(2)]  # warm-up and capture again, then replays
    assert [(r.member, r.epoch, r.split, r.metric) for e in later for r in e] == [
        (r.member, r.epoch, r.split, r.metric) for e in rows[1:] for r in e
    ]
    assert [r.value for e in later for r in e] == pytest.approx([r.value for e in rows[1:] for r in e], rel=1e-6)


def test_capture_with_a_dropped_pack_in_a_cycle_and_collections_at_every_allocation():
    """A captured pack dropped in a cycle, so that only the cyclic GC frees it and its graph, and the GC run at
    almost every allocation: the next pack's capture runs no collection (one destroying that graph there would
    invalidate the capture), succeeds, frees the dropped pack, and its rows equal an eager run's."""
    dropped, _ = trained("rnn", "cuda", True, "float32")
    dropped.cycle = dropped
    freed = weakref.ref(dropped)
    del dropped
    during_capture: list[bool] = []  # per collection: whether it started while the current stream was capturing

    def started(phase: str, info: dict) -> None:
        if phase == "start":
            during_capture.append(torch.cuda.is_current_stream_capturing())

    thresholds = gc.get_threshold()
    gc.set_threshold(1)
    gc.callbacks.append(started)
    try:
        replayed, rows = trained("rnn", "cuda", True, "float32")
    finally:
        gc.callbacks.remove(started)
        gc.set_threshold(*thresholds)
    assert freed() is None and during_capture and not any(during_capture)
    assert replayed.replay is not None and replayed.replay.graph is not None and replayed.replay.steps_taken > WARMUP
    _, want = trained("rnn", "cuda", False, "float32")
    assert rows.keys() == want.keys() and rows == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_packs_capturing_at_once_in_threads_equal_one_at_a_time():
    """Four packs in four threads, each on its own stream as packs side by side are, released together so that
    their captures coincide: captures take turns (torch.cuda.graph syncs the device and empties the cache as it
    starts, which fails during another's capture), each records only its own thread's kernels, and every pack's
    rows equal those it gives alone."""
    kinds = ["mlp", "rnn", "sparse", "unrolled"]
    alone = {kind: trained(kind, "cuda", True, "float32")[1] for kind in kinds}
    start, got, errors = threading.Barrier(len(kinds)), {}, []

    def host(kind: str) -> None:
        try:
            with torch.cuda.stream(torch.cuda.Stream()):
                assert side_stream() == torch.cuda.current_stream()  # the thread's own: no stream shared
                start.wait()
                trainer, got[kind] = trained(kind, "cuda", True, "float32")
                assert trainer.replay is not None
                trainer.replay.release()  # between the others' captures, as a finished pack's graph goes
        except Exception as error:  # the assertion below names it
            errors.append(error)

    threads = [threading.Thread(target=host, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for kind in kinds:
        assert got[kind].keys() == alone[kind].keys() and got[kind] == pytest.approx(alone[kind], rel=1e-5, abs=1e-6)


def test_a_short_batch_is_never_the_one_captured():
    """320 examples in batches of 100: the 4th step, the first after warm-up, is an epoch's last 20. It runs eagerly
    and the next full batch is captured, so every later full batch replays."""
    cfgs, seeds, _ = PACKS["mlp"]
    train = TrainConfig(epochs=2, batch_size=100, lr=1e-2, eval_train_every=1)
    trainer = PackTrainer(cfgs, train, seeds, toy_data(), "cuda")
    rows = [r for _ in range(2) for r in trainer.run_epoch()]
    assert trainer.replay is not None and trainer.replay.graph is not None and trainer.replay.idx.shape[-1] == 100
    eager = PackTrainer(cfgs, train, seeds, toy_data(), "cuda", capture=False)
    want = [r for _ in range(2) for r in eager.run_epoch()]
    assert [r.value for r in rows] == pytest.approx([r.value for r in want], rel=1e-5, abs=1e-6)
    assert side_stream() is side_stream() and side_stream() != torch.cuda.default_stream()  # one per thread
