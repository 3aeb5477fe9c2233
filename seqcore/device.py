"""Where models run: CUDA > Apple MPS > CPU, unless SEQCORE_DEVICE says otherwise."""

from __future__ import annotations

import functools
import os

import torch

_threads_set = False


def set_threads() -> None:
    """Set torch's CPU thread count once per process (SEQCORE_THREADS, default: all cores).

    Called once, because torch refuses to change inter-op threads after parallel work started.
    """
    global _threads_set
    if _threads_set:
        return
    n = os.environ.get("SEQCORE_THREADS")
    if n:
        torch.set_num_threads(max(1, int(n)))
    _threads_set = True


@functools.cache
def pick_device(prefer: str | None = None) -> torch.device:
    """The device to use. `prefer` (or the SEQCORE_DEVICE env var) forces cpu, cuda or mps."""
    set_threads()
    choice = (prefer or os.environ.get("SEQCORE_DEVICE", "")).strip().lower()
    if choice:
        if choice.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("SEQCORE_DEVICE asks for CUDA but torch sees no CUDA device")
        if choice == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError("SEQCORE_DEVICE asks for MPS but torch sees no Apple GPU")
        return torch.device(choice)
    if torch.cuda.is_available():
        # Under torchrun each process owns the GPU its LOCAL_RANK names.
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed-precision dtype for training on `device`: bf16 on CUDA, none elsewhere."""
    if device.type == "cuda":
        return torch.bfloat16
    return None


def device_name(device: torch.device | None = None) -> str:
    """A human-readable name, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA H100'."""
    device = device or pick_device()
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
