"""DistributedDataParallel on CPU (gloo): two processes match one process with the same global batch."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from seqcore.train import TrainConfig, fit
from tests.helpers import counting_data, lm_loss, model

CFG = TrainConfig(epochs=3, batch_size=16, lr=1e-2, patience=None, seed=3)
# Summing gradients in a different order across processes costs a few float32 ulps per step.
TOLERANCE = 1e-4


def _worker(rank: int, world: int, init_file: str, out: str) -> None:
    os.environ["SEQCORE_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        m = model()
        losses = []
        fit(m, lm_loss, counting_data(64), None, CFG, device=torch.device("cpu"),
            on_progress=lambda p: losses.append(p.train_loss))
        if rank == 0:
            torch.save({"state": m.state_dict(), "losses": losses}, out)
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_process(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    ddp = torch.load(out, weights_only=True)

    single = model()
    losses = []
    fit(single, lm_loss, counting_data(64), None, CFG, device=torch.device("cpu"),
        on_progress=lambda p: losses.append(p.train_loss))

    assert ddp["losses"][-1] < ddp["losses"][0]  # it learns
    for k, v in single.state_dict().items():
        torch.testing.assert_close(ddp["state"][k], v, atol=TOLERANCE, rtol=TOLERANCE)


def test_uneven_global_batch_is_refused(tmp_path):
    with pytest.raises(mp.ProcessRaisedException, match="divisible"):
        mp.spawn(_uneven, args=(2, str(tmp_path / "init")), nprocs=2, join=True)


def _uneven(rank: int, world: int, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        fit(model(), lm_loss, counting_data(8), None, TrainConfig(epochs=1, batch_size=3),
            device=torch.device("cpu"))
    finally:
        dist.destroy_process_group()
