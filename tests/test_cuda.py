"""The CUDA path: runs only where torch sees a GPU (skipped on CPU-only machines and in CI here)."""

import pytest
import torch

from seqcore.device import autocast_dtype, pick_device
from seqcore.models import Transformer, TransformerConfig
from seqcore.train import TrainConfig, fit
from tests.helpers import counting_data, lm_loss, model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_device_and_autocast_choice():
    device = pick_device()
    assert device.type == "cuda"
    assert autocast_dtype(device) == torch.bfloat16


def test_training_with_bf16_autocast_learns_on_the_gpu():
    m = model()
    result = fit(m, lm_loss, counting_data(), counting_data(16, seed=1),
                 TrainConfig(epochs=60, batch_size=16, lr=1e-2, patience=None), device=torch.device("cuda"))
    assert next(m.parameters()).device.type == "cuda"
    assert result.best_val_loss < 0.1


def test_sdpa_fast_path_matches_the_weights_path_on_the_gpu():
    torch.manual_seed(0)
    m = Transformer(TransformerConfig(d_model=32, n_heads=4, n_layers=2, vocab_size=13, causal=True)).cuda().eval()
    x = torch.randint(0, 13, (2, 40), device="cuda")
    with torch.inference_mode():
        torch.testing.assert_close(m(x).y, m(x, return_attention=True).y, rtol=1e-4, atol=1e-4)
