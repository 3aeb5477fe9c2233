"""bench/load.py's pure parts, the weight hash behind its integrity check, the home page's Loaded models table,
and a 2-session smoke run of the benchmark against the e2e server."""

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bench import load
from seqcore.checkpoints import find_modules, list_checkpoints, weights_sha256
from tests.conftest import CHROMIUM, ROOT, make_app


def test_percentile_matches_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 37):
        xs = rng.exponential(size=n).tolist()
        for q in (0, 50, 90, 95, 100):
            assert load.percentile(xs, q) == pytest.approx(np.percentile(xs, q))
    assert math.isnan(load.percentile([], 50))


def _result(n, action_times, failures=(), changed=()):
    r = load.PointResult(sessions=n, wall_s=60.0)
    r.samples = [load.Sample(0, "music" if i % 2 else "sentiment", "action", t) for i, t in enumerate(action_times)]
    r.samples.append(load.Sample(0, "music", "open", 9.0))
    r.failures = [load.Failure(0, "music", f) for f in failures]
    r.weights = {"identical": not changed, "changed": list(changed), "compared": 3}
    return r


def test_summary_and_capacity():
    fast, slow = _result(1, [0.5, 0.6, 0.7, 3.0]), _result(10, [1.0, 2.5, 3.0, 4.0])
    s = load.latency_summary(fast.samples)
    assert s["all"]["runs"] == 4 and s["all"]["p50"] == pytest.approx(0.65) and s["all"]["max"] == 3.0
    assert s["sentiment"]["runs"] == 2 and "open" not in s
    assert load.latency_summary(fast.samples, "open")["all"]["p50"] == 9.0
    assert load.capacity([fast, slow], 2.0) == 1
    assert load.capacity([fast, slow], 3.0) == 10
    assert load.capacity([fast, slow], 3.0, p95=2.0) is None  # fast's p95 is 2.66 s
    assert load.capacity([fast, _result(5, [0.5], failures=["timeout"])], 2.0) == 1
    assert load.capacity([_result(5, [0.5], changed=["m"])], 2.0) is None
    rows = load.sweep_rows([fast, slow], 2.0)
    assert [r["p50 < 2 s, 0 errors"] for r in rows] == ["yes", "no"]
    assert rows[0]["actions / min"] == 4.0 and rows[0]["weights identical"] == "yes (3 models)"
    table = load.page_rows([fast, slow], {"music": "music: generate", "sentiment": "sentiment: predict"})
    assert table[-1]["main action"] == "all pages" and table[0]["10 sessions: p50 / p95 s"].count("/") == 1


def test_weights_comparison():
    header = ["checkpoint", "model", "held by", "SHA-256 of the weights", "object"]
    before = load.parse_loaded_models([header, ["a", "LSTM", "f()", "h1", "1"], ["b", "GRU", "g()", "h2", "2"]])
    assert set(before) == {"1", "2"} and before["1"]["SHA-256 of the weights"] == "h1"
    same = load.compare_weights(before, before)
    assert same["identical"] and same["compared"] == 2 and not same["changed"]
    after = load.parse_loaded_models([header, ["a", "LSTM", "f()", "XX", "1"], ["c", "GRU", "h()", "h3", "3"]])
    diff = load.compare_weights(before, after)
    assert not diff["identical"] and diff["changed"] == ["a (f())"] and diff["gone"] == 1 and diff["new"] == 1
    assert not load.compare_weights({}, {})["identical"]  # nothing compared proves nothing
    assert load.parse_loaded_models(None) == {}


def test_weights_sha256_sees_every_bit_dtype_shape_and_name():
    torch.manual_seed(0)
    m = torch.nn.LSTM(4, 8)
    h = weights_sha256(m)
    assert h == weights_sha256(m.state_dict()) == weights_sha256(
        {k: v.clone() for k, v in m.state_dict().items()})
    with torch.no_grad():
        w = m.weight_ih_l0
        w.view(-1).view(torch.int32)[3] ^= 1  # flip the lowest bit of one float
    assert weights_sha256(m) != h
    state = {"a": torch.zeros(2, 3)}
    assert weights_sha256(state) != weights_sha256({"a": torch.zeros(3, 2)})
    assert weights_sha256(state) != weights_sha256({"b": torch.zeros(2, 3)})
    assert weights_sha256(state) != weights_sha256({"a": torch.zeros(2, 3, dtype=torch.float16)})
    assert len(weights_sha256({"a": torch.ones(2, dtype=torch.bfloat16), "n": torch.tensor(3)})) == 64


def test_find_modules_walks_containers_and_names_checkpoints():
    a, b = torch.nn.Linear(2, 2), torch.nn.GRU(2, 2)
    card = {"task": "demo", "name": "demo-a"}
    found = find_modules(({"x": a, "y": [a, b]}, card), "f()")
    assert [(p, m) for p, m, _ in found] == [("f()[0]['x']", a), ("f()[0]['y'][1]", b)]  # a once, not a's Linear
    assert {n for _, _, n in found} == {"demo-a"}
    outsider = type("Holder", (), {})()  # not a seqcore object: not searched
    outsider.model = a
    assert find_modules(outsider) == []


def test_home_lists_loaded_models_with_their_weight_hash():
    from seqcore.tasks import sentiment as S

    at = make_app(timeout=300)
    at.run()
    at.switch_page("pages/sentiment.py").run()
    assert not at.exception, at.exception
    at = make_app(timeout=300)  # a new session on the home page: the resource cache is per process, not session
    at.run()
    assert not at.exception, at.exception
    rows = [r for t in at.table for r in t.value.to_dict("records")]
    shown = {r["checkpoint"]: r["SHA-256 of the weights"] for r in rows}
    loaded = [c for c in list_checkpoints(S.TASK) if c.name in shown]
    assert loaded, rows
    for info in loaded:  # the same file loaded afresh hashes the same as the shared copy
        assert shown[info.name] == weights_sha256(S.load(info)[0].net)


def test_frames_stop_the_clock_on_the_servers_script_finished():
    """The clock bench/load.py and bench/pages.py stop: a full-run script_finished after a rerun the page asked
    for at or after the action, whatever the page rendered (a starved browser can batch a fast rerun's
    "running" and "finished" into one render, so the script-state attribute never shows it: the lost click)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from bench._frames import Frames

    class Page:  # what Frames needs of a Playwright page: on("websocket", handler)
        def on(self, event, handler):
            self.handler = handler

    class Socket:
        url = "ws://127.0.0.1:1/_stcore/stream"

        def on(self, event, handler):
            setattr(self, event, handler)

    pg, ws = Page(), Socket()
    frames = Frames(pg)
    pg.handler(ws)
    rerun = BackMsg()
    rerun.rerun_script.page_script_hash = "x"
    status = ForwardMsg()
    status.session_status_changed.script_is_running = True
    done, early, fragment = ForwardMsg(), ForwardMsg(), ForwardMsg()
    done.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    early.script_finished = ForwardMsg.FINISHED_EARLY_FOR_RERUN
    fragment.script_finished = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY

    ws.framereceived(done.SerializeToString())  # an earlier run's end: not this action's
    t0 = time.perf_counter()
    timer = BackMsg()
    timer.rerun_script.fragment_id = "progress"
    ws.framesent(timer.SerializeToString())  # a fragment's run_every timer asks for no full rerun
    ws.framereceived(done.SerializeToString())
    assert not frames.finished_since(t0)
    assert not frames.finished_since(t0)
    ws.framereceived(fragment.SerializeToString())  # a progress fragment's run is not the rerun asked for
    ws.framereceived("text frame")  # not a Streamlit message: ignored
    assert not frames.finished_since(t0) and "nothing" not in frames.since(t0)
    ws.framesent(rerun.SerializeToString())
    ws.framereceived(status.SerializeToString())
    ws.framereceived(early.SerializeToString())  # interrupted by a newer rerun: not finished yet
    assert not frames.finished_since(t0)
    ws.framereceived(done.SerializeToString())
    assert frames.finished_since(t0)
    said = frames.since(t0)
    assert "sent rerun_script(fragment)" in said and "sent rerun_script," in said
    assert "session_status_changed(running)" in said
    assert "script_finished(FINISHED_SUCCESSFULLY)" in said
    assert frames.since(time.perf_counter() + 1).endswith("nothing]")


# In `make test`: two sessions act at once on the e2e server. Its once-lost "New scene" click (also seen by
# bench/load.py at 10 sessions) was the old clock missing a rerun the starved browser never showed as
# running (see test_frames_stop_the_clock_on_the_servers_script_finished); the clock now reads the websocket.
def test_load_bench_two_sessions_smoke(server_url, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (make browser)")
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load.py"), "--url", server_url, "--sessions", "2",
         "--pages", "sentiment,captioning", "--no-write", "--json", str(out), "--timeout", "90"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.exists(), proc.stderr[-3000:]
    (res,) = json.loads(out.read_text())
    assert res["failures"] == [] and res["warmup_failures"] == [], res
    actions = [s for s in res["samples"] if s["kind"] == "action"]
    assert len(actions) == 4 and {s["session"] for s in actions} == {0, 1}
    assert res["weights"]["compared"] >= 2 and res["weights"]["identical"], res["weights"]
    assert proc.returncode == 0, proc.stderr[-3000:]
