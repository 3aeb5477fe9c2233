"""`torchrun --nproc_per_node=2 -m seqcore train ...` on CPU (gloo): it learns and only rank 0 writes."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.exists() else [shutil.which("torchrun") or "torchrun"]


def test_two_process_training_from_the_cli(tmp_path):
    env = {**os.environ, "SEQCORE_THREADS": "1", "SEQCORE_DEVICE": "cpu"}
    r = subprocess.run(
        [*torchrun(), "--standalone", "--nproc_per_node=2", "-m", "seqcore", "train", "forecast",
         "--model", "lstm", "--epochs", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)  # exactly one JSON document: only rank 0 prints
    assert Path(doc["checkpoint"]).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast-goog-lstm.json", "forecast-goog-lstm.safetensors"]
    card = json.loads((tmp_path / "forecast-goog-lstm.json").read_text())
    assert card["world_size"] == 2
    losses = [float(x) for x in re.findall(r"step \d+/\d+ train ([0-9.]+)", r.stderr)]
    assert len(losses) == 3  # one progress line per epoch, from rank 0 only
    assert losses[-1] < losses[0]
