"""torchrun support: join the process group torchrun describes in the environment.

`torchrun --nproc_per_node=N -m seqcore train TASK ...` sets RANK / WORLD_SIZE / LOCAL_RANK /
MASTER_ADDR / MASTER_PORT; the CLI calls init_from_env() before dispatching, and the trainer wraps
the model in DistributedDataParallel whenever a process group exists. gloo on CPU, NCCL on CUDA.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env() -> bool:
    """Initialise the default process group from torchrun's variables; False when not under torchrun."""
    if not launched_by_torchrun() or dist.is_initialized():
        return dist.is_initialized()
    use_cuda = torch.cuda.is_available() and os.environ.get("SEQCORE_DEVICE", "cuda").startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return True


def is_main_process() -> bool:
    """Rank 0 (or the only process): the one that writes checkpoints, model cards and logs."""
    return not dist.is_initialized() or dist.get_rank() == 0


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
