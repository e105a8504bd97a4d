"""The batched trainer: M members of one family shape, stacked on a leading axis, trained as one.

Each member's loss (train/losses.py, by name) is a mean over its own minibatch; the pack minimises their sum, whose
gradient for member m is exactly the gradient of m's own loss. Adam is elementwise, so one Adam over the
stacked tensors is M independent Adams. Together with per-seed init and data order, a run's numbers do not
depend on which other runs share its pack.

A wide pack holds members of several widths of one shape (`models.cover`) and of several data sets of one size.
Each member's params are zero-padded to the widest (`stacked.pad`); the padded units stay exactly zero (the
families' `padded` says why), so each member trains as it would alone, up to the rounding of sums that now run
over a few more zeros. Each member gathers its minibatches from its own data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from itermap.data import Dataset, views
from itermap.models import FamilyConfig, cover, family_of
from itermap.models.stacked import Params, crop, pad, stack
from itermap.train.capture import Replay
from itermap.train.config import TrainConfig
from itermap.train.losses import LOSSES, teacher_kl
from itermap.train.order import batches, epoch_order

EVAL_CHUNK = 2048  # examples per evaluation step: bounds memory at M * 2048 * inputs floats


@dataclass(frozen=True)
class MetricRow:
    """One measured number of one member."""

    member: int
    epoch: int
    split: str  # train | test | validation
    metric: str  # accuracy | cross_entropy; with a teacher also agreement | teacher_kl
    value: float
    step: int | None = None  # the prediction of step 1..T (anytime metrics); None: the model's prediction


def prepare(cfg, train: TrainConfig, images: torch.Tensor, data: Dataset, device: str) -> torch.Tensor:
    """uint8 images [N, H, W] -> the family's input view, scaled, on `device`."""
    mean, std = (data.mean, data.std) if train.scaling == "standardize" else (0.0, 1.0)
    x = views.scale(images.to(device), mean, std, train.torch_dtype)
    return family_of(cfg).view(cfg, x).contiguous()


def adam(params: list[torch.Tensor], lr: float, capturable: bool = False) -> torch.optim.Adam:
    """Adam over the stacked tensors: fused kernels where the device has them, else foreach; `capturable` keeps its
    step count on the device, so that a CUDA graph can hold its step (train/capture.py)."""
    # torch.optim imports torch._dynamo at a process's first optimizer, and that import leaves a reference cycle
    # holding its callers' frames: the first trainer of a process is freed only by the cyclic GC. Importing it with
    # this module would cost every command a second; `capture.gc_paused` collects it before any capture instead.
    try:
        return torch.optim.Adam(params, lr=lr, fused=True, capturable=capturable)
    except RuntimeError:
        return torch.optim.Adam(params, lr=lr, foreach=True, capturable=capturable)


@torch.no_grad()
def teacher_logits(cfg: FamilyConfig, params: Params, x: torch.Tensor) -> torch.Tensor:
    """One member's logits [N, C] on its prepared input x [N, ...], in chunks, on x's device and dtype."""
    one = {k: v.to(x.device, x.dtype).unsqueeze(0) for k, v in params.items()}  # a pack of one
    return torch.cat([family_of(cfg).forward(cfg, one, chunk.unsqueeze(0))[0] for chunk in x.split(EVAL_CHUNK)])


class PackTrainer:
    """Trains one pack, an epoch at a time, and evaluates it on the configured schedule.

    `teacher`: a trained member (config, params) whose logits on both splits are computed once here, on the device;
    the `distill` loss trains on them, and every evaluation adds the fidelity metrics `agreement` (top-1 agreement
    with the teacher) and `teacher_kl` (mean KL(teacher || student) at temperature 1; Stanton et al. 2021).
    """

    def __init__(
        self,
        cfg: FamilyConfig | list[FamilyConfig],
        train: TrainConfig,
        seeds: list[int],
        data: Dataset | list[Dataset],
        device: str = "cpu",
        teacher: tuple[FamilyConfig, Params] | None = None,
        capture: bool | None = None,
        order_seeds: list[int] | None = None,
    ):
        """`cfg` and `data`: one for every member, or a list with one per member (a wide pack). `capture`: replay
        the training step from a CUDA graph (train/capture.py); by default on CUDA. `order_seeds`: each member's
        data-order seed where it is not its init seed (crossed seeds); by default `seeds` draw both."""
        self.seeds, self.train, self.device = list(seeds), train, device
        m = len(self.seeds)
        self.order_seeds = self.seeds if order_seeds is None else list(order_seeds)
        if len(self.order_seeds) != m:
            raise ValueError(f"{len(self.order_seeds)} order seeds for {m} members: give one per member")
        self.cfgs = list(cfg) if isinstance(cfg, list) else [cfg] * m  # each member's own configuration
        datas = list(data) if isinstance(data, list) else [data] * m
        self.cfg = cover(self.cfgs)  # the shape every member trains in
        if LOSSES[train.loss].steps and not self.cfg.has_steps:
            raise ValueError(
                f"loss {train.loss!r} needs per-step logits, which family {self.cfg.family!r} does not produce"
            )
        if LOSSES[train.loss].teacher and teacher is None:
            raise ValueError(f"loss {train.loss!r} trains on a teacher's logits: give the trainer a teacher")
        sources = list({id(d): d for d in datas}.values())  # the distinct data sets, in member order
        if len({d.split_sizes for d in sources}) > 1:
            raise ValueError(f"{', '.join(d.name for d in sources)}: a pack's data sets must be of one size")
        if teacher is not None and len(sources) > 1:
            raise ValueError("a teacher's logits are of one data set: a pack of students reads only that one")
        # Data lives on the device for the whole run, the data sets one after another; minibatches are gathered
        # there by index. Member m's example i is row source[m] * N + i (`take`).
        self.x_train = torch.cat([prepare(self.cfg, train, d.train_images, d, device) for d in sources])  # [S*N, ...]
        self.y_train = torch.cat([d.train_labels for d in sources]).to(device)  # [S*N]
        self.x_test = torch.cat([prepare(self.cfg, train, d.test_images, d, device) for d in sources])
        self.y_test = torch.cat([d.test_labels for d in sources]).to(device)
        self.n_train, self.n_test = len(sources[0].train_labels), len(sources[0].test_labels)  # per data set
        # The validation images held out of the train split (data/validation.py), evaluated with the test split.
        held = [
            (d, d.validation_images, d.validation_labels)
            for d in sources
            if d.validation_images is not None and d.validation_labels is not None
        ]
        self.x_val = self.y_val = None
        if held:
            self.x_val = torch.cat([prepare(self.cfg, train, images, d, device) for d, images, _ in held])
            self.y_val = torch.cat([labels for *_, labels in held]).to(device)
        self.n_val = sources[0].split_sizes[2]
        at = {id(d): i for i, d in enumerate(sources)}
        self.source = None  # [M, 1]: each member's data set, where they differ
        if len(sources) > 1:
            self.source = torch.tensor([[at[id(d)]] for d in datas], device=device)
        self.teacher_train = self.teacher_test = None  # the teacher's logits [N, C] of each split
        if teacher is not None:
            (teacher_cfg, weights), d = teacher, sources[0]
            self.teacher_train, self.teacher_test = (
                teacher_logits(teacher_cfg, weights, prepare(teacher_cfg, train, images, d, device))
                for images in (d.train_images, d.test_images)
            )
        dtype = train.torch_dtype
        members = [family_of(c).init(c, s, dtype) for c, s in zip(self.cfgs, self.seeds)]
        self.shapes = [{k: v.shape for k, v in p.items()} for p in members]  # each member's own param shapes
        if any(c != self.cfg for c in self.cfgs):  # padded to the widest shape, each member in its leading corner
            wide = {k: v.shape for k, v in family_of(self.cfg).init(self.cfg, 0, dtype).items()}
            members = [pad(p, wide) for p in members]
        self.params: Params = {k: v.to(device).requires_grad_() for k, v in stack(members).items()}
        self.capture = device.startswith("cuda") if capture is None else capture
        if self.capture and not device.startswith("cuda"):
            raise ValueError(f"capture: CUDA graphs need a CUDA device, not {device!r}")
        self.optimizer = adam(list(self.params.values()), train.lr, capturable=self.capture)
        self.replay = Replay() if self.capture else None  # given `eager_step` per call: no cycle through it
        self.epoch = 0
        self.diverged: list[int | None] = [None] * m

    @property
    def done(self) -> bool:
        return self.epoch >= self.train.epochs

    def orders(self, epoch: int) -> torch.Tensor:
        """Example order of every member for `epoch`: [M, N], or [1, N] when the pack shares one order."""
        seeds = [self.train.data_seed] if self.train.data_order == "shared" else self.order_seeds
        # Each seed's permutation once (a wide pack repeats its seeds across widths and data sets), on the CPU,
        # then one row per member on the device: [S, N] -> [M, N].
        unique = list(dict.fromkeys(seeds))
        drawn = torch.stack([epoch_order(s, epoch, self.n_train) for s in unique]).to(self.device)
        if len(unique) == len(seeds):
            return drawn
        return drawn[torch.tensor([unique.index(s) for s in seeds], device=self.device)]

    def losses(self, x: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        """Per-member training loss (`train.loss`): x [M, B, ...], y [M, B], teacher's logits [M, B, C] -> [M]."""
        loss = LOSSES[self.train.loss]
        per_step = {"steps": True} if loss.steps else {}
        logits = family_of(self.cfg).forward(self.cfg, self.params, x, **per_step)  # [M, B, C] or [M, T, B, C]
        return loss.fn(logits, y, self.train, teacher)

    def take(self, split: torch.Tensor, idx: torch.Tensor, n: int) -> torch.Tensor:
        """Each member's rows of a split stacked over data sets of `n` examples: idx [M or 1, B] -> [M, B, ...]."""
        if self.source is not None:
            idx = idx + self.source * n  # [M, B]: member m's data set starts at row source[m] * n
        # index_select copies whole rows: about 3x faster on the CPU than split[idx]'s generic gather.
        rows = split.index_select(0, idx.flatten()).view(*idx.shape, *split.shape[1:])
        return rows.expand(len(self.seeds), *rows.shape[1:])

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One Adam step on the examples `idx` [M or 1, B] of the train split; returns the losses [M]."""
        return self.replay(self.eager_step, idx) if self.replay is not None else self.eager_step(idx)

    def eager_step(self, idx: torch.Tensor) -> torch.Tensor:
        """`step`, run op by op."""
        x, y = self.take(self.x_train, idx, self.n_train), self.take(self.y_train, idx, self.n_train)  # [M, B, ...]
        teacher = None
        if LOSSES[self.train.loss].teacher:
            assert self.teacher_train is not None  # __init__ computes it for a loss that reads a teacher
            teacher = self.take(self.teacher_train, idx, self.n_train)
        loss = self.losses(x, y, teacher)  # teacher: [M, B, C]
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.optimizer.step()
        return loss.detach()

    def run_epoch(self) -> list[MetricRow]:
        """Trains one epoch, then evaluates as scheduled; returns the epoch's rows of healthy members."""
        self.epoch += 1
        running = torch.zeros(len(self.seeds), dtype=self.train.torch_dtype, device=self.device)
        for idx in batches(self.orders(self.epoch), self.train.batch_size):
            running += self.step(idx)
        # One host sync per epoch: a member whose loss or weights went NaN/inf is marked diverged.
        finite = torch.isfinite(running)
        for p in self.params.values():
            finite &= torch.isfinite(p.detach()).flatten(1).all(1)
        for i, ok in enumerate(finite.tolist()):
            if not ok and self.diverged[i] is None:
                self.diverged[i] = self.epoch
        return self.evaluate_scheduled()

    def evaluate_scheduled(self) -> list[MetricRow]:
        """Rows for this epoch: test (and validation, where held out) every `eval_test_every`, train every
        `eval_train_every`, all at the end."""
        splits = []
        if self.epoch % self.train.eval_test_every == 0 or self.done:
            splits += ["test", "validation"] if self.x_val is not None else ["test"]
        if self.epoch % self.train.eval_train_every == 0 or self.done:
            splits.append("train")
        rows = []
        for split in splits:
            anytime = split == "test" and self.train.eval_steps and self.cfg.has_steps
            metrics, per_step = self.evaluate(split, anytime)
            if split == "test" and self.done:
                found = self.dynamics(self.cfg.anytime_steps if anytime else 0)
                metrics |= {k: v for k, v in found.items() if v.ndim == 1}
                per_step |= {k: v for k, v in found.items() if v.ndim == 2}  # the residual at each step
            for i in range(len(self.seeds)):
                if self.diverged[i] is None:
                    rows += [MetricRow(i, self.epoch, split, k, float(v[i])) for k, v in metrics.items()]
                    rows += [
                        MetricRow(i, self.epoch, split, k, float(v[i, j]), j + 1)
                        for k, v in per_step.items()
                        for j in range(v.shape[1])
                    ]
        return rows

    @torch.no_grad()
    def dynamics(self, steps: int = 0) -> dict[str, torch.Tensor]:
        """The family's `dynamics` metrics on the test split where it has them (models/unrolled.py: a tied or partly
        tied net's spectra, fixed-point residuals and accuracy past its depth), each [M], and with `steps` the residual
        at each step, [M, steps]: the chunks' means weighted by their size."""
        dynamics = getattr(family_of(self.cfg), "dynamics", None)
        if dynamics is None:
            return {}
        found: dict[str, torch.Tensor] = {}
        for idx in torch.arange(self.n_test, device=self.device).split(EVAL_CHUNK):
            x, y = self.take(self.x_test, idx[None], self.n_test), self.take(self.y_test, idx[None], self.n_test)
            for k, v in dynamics(self.cfg, self.params, x, y, steps).items():
                found[k] = found.get(k, 0) + v.double().cpu() * len(idx) / self.n_test
        return found

    @torch.no_grad()
    def evaluate(self, split: str, anytime: bool = False) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Accuracy and mean cross-entropy of every member on a whole split: each metric [M]; with `anytime`, also
        of every step's prediction, steps 1..anytime_steps: each [M, T] (else empty). With a teacher, also the
        fidelity of the model's prediction: agreement = mean_n [argmax s_n = argmax t_n], teacher_kl = mean_n
        KL(softmax(t_n) || softmax(s_n)), each [M]."""
        x_all, y_all, teacher_all, n = {
            "train": (self.x_train, self.y_train, self.teacher_train, self.n_train),
            "test": (self.x_test, self.y_test, self.teacher_test, self.n_test),
            "validation": (self.x_val, self.y_val, None, self.n_val),  # no teacher's logits: no fidelity metrics
        }[split]
        assert x_all is not None and y_all is not None  # the validation split is evaluated only where it is held out
        cfg, m = self.cfg, len(self.seeds)
        n_steps = cfg.anytime_steps if anytime else 1
        run_on = {"through": n_steps} if anytime and n_steps != cfg.step_count else {}  # a tied net past its depth
        correct = torch.zeros(m, n_steps, dtype=torch.float64, device=self.device)
        ce = torch.zeros(m, n_steps, dtype=torch.float64, device=self.device)
        agree = torch.zeros(m, dtype=torch.float64, device=self.device)
        kl = torch.zeros(m, dtype=torch.float64, device=self.device)
        final = cfg.step_count - 1 if anytime else 0  # the model's prediction: its last trained step's
        for idx in torch.arange(n, device=self.device).split(EVAL_CHUNK):
            x, y = self.take(x_all, idx[None], n), self.take(y_all, idx[None], n)  # [M, B, ...], [M, B]
            if anytime:  # every step's prediction: [M, T, B, C]
                logits = family_of(cfg).forward(cfg, self.params, x, steps=True, **run_on)
            else:
                logits = family_of(cfg).forward(cfg, self.params, x).unsqueeze(1)  # [M, 1, B, C]
            labels = y.unsqueeze(1).expand(-1, n_steps, -1)  # [M, T, B]
            per_example = F.cross_entropy(logits.permute(0, 3, 1, 2), labels, reduction="none")  # [M, T, B]
            ce += per_example.sum(2).double()
            correct += (logits.argmax(-1) == labels).sum(2)
            if teacher_all is not None:
                student, teacher = logits[:, final], self.take(teacher_all, idx[None], n)  # [M, B, C] each
                agree += (student.argmax(-1) == teacher.argmax(-1)).sum(1)
                kl += teacher_kl(teacher, student).sum(1).double()
        accuracy, cross_entropy = (correct / n).cpu(), (ce / n).cpu()
        metrics = {"accuracy": accuracy[:, final], "cross_entropy": cross_entropy[:, final]}
        if teacher_all is not None:
            metrics |= {"agreement": (agree / n).cpu(), "teacher_kl": (kl / n).cpu()}
        return metrics, ({"accuracy": accuracy, "cross_entropy": cross_entropy} if anytime else {})

    def member_params(self, i: int) -> Params:
        """Member i's current params in its own shapes (padding cropped), detached, on the CPU."""
        own = crop({k: v[i] for k, v in self.params.items()}, self.shapes[i])
        return {k: v.detach().cpu().clone() for k, v in own.items()}

    def state_dict(self) -> dict:
        """Everything needed to continue exactly where this trainer is (torch.save-able)."""
        return {
            "epoch": self.epoch,
            "diverged": list(self.diverged),
            "params": {k: v.detach().cpu() for k, v in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a `state_dict` of a trainer of the same pack."""
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(state["params"][k])
        self.optimizer.load_state_dict(state["optimizer"])  # new state tensors: a captured step would miss them
        if self.replay is not None:
            self.replay.release()
        self.replay = Replay() if self.capture else None
        self.epoch, self.diverged = state["epoch"], list(state["diverged"])
