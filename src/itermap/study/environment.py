"""The environment a study session trains in, as one row of the store's `sessions` table."""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
import time
from importlib.metadata import version

import torch

import itermap
from itermap.study.training import THREADS


def git_commit() -> str | None:
    """The commit checked out in the working directory (`git rev-parse HEAD`), or None outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def environment(executor: str, workers: int, shard: str, device: str, device_name: str) -> dict[str, object]:
    """This session's environment: command line, executor, device, threads, git commit and library versions."""
    cuda = device.startswith("cuda")
    return {
        "started": time.time(),
        "command": shlex.join(sys.argv),
        "executor": executor,
        "workers": workers,
        "shard": shard,
        "device": device,
        "device_name": device_name,
        "threads": THREADS,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "itermap": itermap.__version__,
        "torch": torch.__version__,
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "pandas": version("pandas"),
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": str(torch.backends.cudnn.version()) if cuda else None,
    }
