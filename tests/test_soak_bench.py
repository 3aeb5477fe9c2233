"""bench/soak.py's pure parts (growth after warm-up, the RSS table, the verdict) and a short soak against the e2e
server."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import load, soak
from tests.conftest import CHROMIUM, ROOT


def test_growth_compares_medians_of_the_window_after_warmup_and_the_last_one():
    # 10 minutes every 2 s: 500 MiB during warm-up (the first minute), 600 MiB after it, rising to 630 at the end,
    # with one spike of 2000 MiB in each judged window that the medians ignore
    series = [(t, 500.0 if t < 60 else 600.0 + 30 * (t - 60) / 540) for t in range(0, 600, 2)]
    series[35] = (70, 2000.0)
    series[-3] = (594, 2000.0)
    g = soak.rss_growth(series, 600, 60)
    assert g["window_s"] == 60 and g["start"] == 500.0 and g["peak"] == 2000.0
    # the medians of 60..118 s and 540..598 s: the spike moves each by at most one sample's step (0.11 MiB)
    assert g["after_warmup"] == pytest.approx(600 + 30 * 29 / 540, abs=0.12)
    assert g["end"] == pytest.approx(600 + 30 * 509 / 540, abs=0.12)
    assert g["growth_pct"] == pytest.approx(100 * (g["end"] - g["after_warmup"]) / g["after_warmup"])
    assert 3 < g["growth_pct"] < 5


def test_growth_window_is_a_tenth_of_a_short_run_and_ignores_the_overrun():
    series = [(float(t), 100.0 + t) for t in range(0, 40)]  # 40 s; samples past 30 s are the last cycle's
    g = soak.rss_growth(series, 30, 3)
    assert g["window_s"] == 3
    assert g["after_warmup"] == 104.0 and g["end"] == 128.0  # medians of 3,4,5 and of 27,28,29
    assert g["peak"] == 139.0
    assert soak.rss_growth([], 30, 3)["growth_pct"] is None
    assert soak.rss_growth([(0.0, 100.0)], 30, 3)["growth_pct"] is None  # nothing after warm-up


def test_rss_rows_bucket_the_run_by_minute_or_tenth():
    assert soak.bucket_s(30 * 60) == 60 and soak.bucket_s(8 * 60) == 48 and soak.bucket_s(40) == 4
    assert soak.bucket_s(120 * 60) == 240  # a long run keeps 30 rows
    series = [(float(t), 200.0 + (t >= 300) * 50) for t in range(0, 600, 5)]
    rows = soak.rss_rows(series, 600, action_times=[1.0, 59.0, 61.0, 599.0], error_times=[301.0])
    assert len(rows) == 10 and rows[0]["from min"] == 0 and rows[-1]["to min"] == 10
    assert [r["RSS median MiB"] for r in rows] == [200] * 5 + [250] * 5
    assert [r["actions"] for r in rows] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert rows[5]["errors"] == 1 and sum(r["errors"] for r in rows) == 1
    # samples past the planned end (users finishing their cycle) fall in a last, shorter row
    late = soak.rss_rows([*series, (610.0, 260.0)], 600)
    assert len(late) == 11 and late[-1]["RSS median MiB"] == 260 and late[-1]["to min"] == pytest.approx(10.2)
    assert soak.rss_rows([], 600) == []


def test_verdict():
    same = {"identical": True, "changed": [], "compared": 3}
    assert soak.verdict(9.9, 0, same) == []
    assert "grew 10.0%" in soak.verdict(10.0, 0, same)[0]
    assert soak.verdict(-5.0, 2, same) == ["2 error(s)"]
    assert "no RSS" in soak.verdict(None, 0, same)[0]
    assert "weights changed: m" in soak.verdict(1.0, 0, {"identical": False, "changed": ["m"]})[0]
    assert "no model" in soak.verdict(1.0, 0, {"identical": False, "changed": []})[0]


def test_timed_list_notes_when_run_session_added_each_item():
    t0 = time.perf_counter()
    got = soak.Timed(t0)
    got.append(load.Sample(0, "music", "action", 1.0))
    got += [load.Failure(0, "music", "a"), load.Failure(0, "music", "b")]  # as run_session adds failures
    assert len(got) == 3 and len(got.times) == 3 and isinstance(got, soak.Timed)
    assert 0 <= got.times[0] <= got.times[1] <= got.times[2] < 5


MMAP_PROBE = """
import ctypes, runpy, sys
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                                              "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
if sys.argv[1] == "fixed":
    assert runpy.run_path(sys.argv[2])["fixed_mmap_threshold"]()
big = bytearray(8 << 20)
del big  # glibc's own rule: freeing this mmapped block raises the threshold to 8 MiB...
mid = bytearray(4 << 20)  # ... so this would come from the heap, unless the threshold is fixed
print(libc.mallinfo2().hblkhd >> 20)
"""


def test_server_keeps_big_buffers_out_of_glibcs_heaps():
    """What the soak found: glibc's moving mmap threshold put every rerun's multi-MB buffers in its heaps, where
    they fragmented (RSS +15-18% in 8-16 minutes, glibc's free-but-kept memory 50 -> 470 MiB). scripts/app_server.py
    fixes the threshold, so such buffers are mapped on their own and given back when freed."""
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc" or not hasattr(ctypes.CDLL(None), "mallinfo2"):
        pytest.skip("glibc 2.33+ only")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def mapped_mib(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", MMAP_PROBE, mode, str(ROOT / "scripts" / "app_server.py")],
                             capture_output=True, text=True, env=env, timeout=60, check=True)
        return int(out.stdout)

    assert mapped_mib("default") < 4  # glibc's default: the 4 MiB buffer went into the heap
    assert mapped_mib("fixed") >= 4


# A short soak (about 25 s of cycling plus the warm visit) through the real benchmark, as bench/load.py's smoke.
# It checks the machinery, not the server's memory: 25 s on a session-scoped server other tests have used is no
# steady state, so the growth limit is loose (50%); the long run judges growth.
@pytest.mark.e2e
def test_soak_smoke(server_url, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (make browser)")
    out = tmp_path / "soak.json"
    pid = _server_pid(server_url)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--url", server_url, "--pid", str(pid), "--sessions", "2",
         "--minutes", "0.4", "--session-rounds", "1", "--every", "1", "--pages", "sentiment,captioning",
         "--no-write", "--json", str(out), "--timeout", "90", "--max-growth", "50"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["failures"] == [] and res["warmup_failures"] == [], res["failures"] + res["warmup_failures"]
    actions = [s for s in res["samples"] if s["kind"] == "action"]
    assert {s["page"] for s in actions} == {"sentiment", "captioning"}
    assert {s["session"] % 2 for s in actions} == {0, 1} and res["contexts"] >= 2
    assert all(0 < s["t"] < res["duration_s"] for s in actions)
    assert len(res["rss"]) >= 10 and all(mb > 100 for _, mb in res["rss"])
    assert res["growth"]["growth_pct"] is not None and res["weights"]["identical"], res["weights"]
    assert "### Server RSS over time" in proc.stdout and "captioning: new scene" in proc.stdout
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _server_pid(url: str) -> int:
    """The pid of the e2e fixture's server (`app_server.py ... --server.port PORT`), found by its command line."""
    port = url.rsplit(":", 1)[1]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(a.endswith("app_server.py") for a in args) and port in args and \
                args[args.index(port) - 1] == "--server.port":
            return int(pid)
    pytest.fail(f"no app_server.py process serves port {port}")
