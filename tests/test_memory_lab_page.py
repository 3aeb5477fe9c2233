"""The memory lab page through Streamlit's AppTest: the shipped fair races at once (equal steps and equal wall
time side by side, recall and parity), a live run, bad input."""

import json

import pytest

from seqcore.checkpoints import shipped_dir
from tests.conftest import open_page

SHIPPED = shipped_dir() / "memory_lab_default.json"
STEPS, SECONDS = "Equal steps", "Equal wall time"


@pytest.fixture
def lab_page(app):
    return open_page("memory_lab", app)


def figures(at) -> dict:
    return {json.loads(el.proto.spec)["layout"]["title"]["text"]: json.loads(el.proto.spec)
            for el in at.main.get("plotly_chart")}


def race(figs: dict, budget: str) -> dict:
    return next(f for t, f in figs.items() if t.startswith(budget))


def test_first_visit_shows_both_races_of_the_shipped_recall_run(lab_page):
    at = lab_page
    assert SHIPPED.exists(), "the shipped races are part of the repo"
    assert not at.error
    assert at.radio(key="memory-lab-view").value == "recall"
    assert at.radio(key="memory-lab-view").options == ["Shipped: recall", "Shipped: parity"]
    figs = figures(at)
    shipped = json.loads(SHIPPED.read_text())["recall"]
    for budget, key in ((STEPS, "steps"), (SECONDS, "seconds")):
        acc = race(figs, budget)
        lines = [t for t in acc["data"] if t.get("mode") == "lines+markers"]
        assert [t["name"] for t in lines] == ["vanilla RNN", "LSTM", "Transformer"]
        assert lines[2]["y"] == shipped["views"][key]["transformer"]["mean"]  # the mean over the seeds
        bands = [t for t in acc["data"] if t.get("fill") == "toself"]
        assert len(bands) == 3, "the seeds' range is shaded"
        chance = [s for s in acc["layout"]["shapes"] if s["y0"] == s["y1"] == shipped["chance"]]
        assert chance, "chance level is drawn"
    title = race(figs, STEPS)["layout"]["title"]["text"]
    assert title == f"Equal steps: {shipped['budgets']['steps']['steps']:,} per model"
    grad = next(f for t, f in figs.items() if t.startswith("Gradient norm through time"))
    assert grad["layout"]["yaxis"]["type"] == "log"
    assert "Gradient norm before clipping" in figs and "Training loss" in figs
    assert at.latex and any("tanh" in x.value for x in at.latex)
    assert any("Parity" in m.value and "flip-flop" in m.value for m in at.markdown)
    assert any("Equal wall time** asks what that costs" in m.value for m in at.markdown)
    assert any(c.value.startswith("In the same time:") for c in at.caption)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["vanilla RNN", "LSTM", "Transformer"] * 2
    assert list(table["race"]) == ["equal steps"] * 3 + ["equal wall time"] * 3


def test_the_parity_race_is_one_click_away(lab_page):
    at = lab_page
    at.radio(key="memory-lab-view").set_value("parity").run()
    assert not at.exception and not at.error
    shipped = json.loads(SHIPPED.read_text())["parity"]
    acc = race(figures(at), STEPS)
    lines = {t["name"]: t["y"] for t in acc["data"] if t.get("mode") == "lines+markers"}
    assert lines["LSTM"] == shipped["views"]["steps"]["lstm"]["mean"]
    assert not any(t.startswith("Gradient norm before clipping") for t in figures(at))  # clipping runs on recall only


def test_bad_distances_and_no_model_show_errors_not_tracebacks(lab_page):
    at = lab_page
    at.text_input(key="memory-lab-eval").set_value("10, ten").run()
    at.button(key="memory-lab-train").click().run()
    assert not at.exception
    assert any("whole numbers" in e.value for e in at.error)
    assert at.session_state["memory-lab-eval"] == "10, ten"  # the user's text is kept to fix
    at.text_input(key="memory-lab-eval").set_value("").run()
    at.multiselect(key="memory-lab-models").set_value([]).run()
    at.button(key="memory-lab-train").click().run()
    assert any("choose at least one model" in e.value for e in at.error)
    at.multiselect(key="memory-lab-models").set_value(["rnn"]).run()
    at.multiselect(key="memory-lab-budgets").set_value([]).run()
    at.button(key="memory-lab-train").click().run()
    assert any("choose at least one race" in e.value for e in at.error)
    assert "memory-lab-job" not in at.session_state


def test_live_run_trains_and_is_kept_beside_the_shipped_one(lab_page):
    at = lab_page
    at.slider(key="memory-lab-distance").set_value(10).run()
    at.slider(key="memory-lab-steps").set_value(100).run()
    at.multiselect(key="memory-lab-models").set_value(["rnn"]).run()
    at.button(key="memory-lab-train").click().run()
    assert not at.exception, at.exception
    job = at.session_state["memory-lab-job"]
    assert job.wait(60) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="memory-lab-view").value == 1
    assert at.radio(key="memory-lab-view").options == ["Shipped: recall", "Shipped: parity", "Your run 1"]
    result = at.session_state["memory-lab-runs"][0]
    assert result["distances"] == [5, 10] and list(result["views"]) == ["steps"]
    assert result["command"] == ("seqcore memory-lab --task recall --distances 5,10 --budgets steps --steps 100 "
                                 "--seconds 20 --seeds 0 --models rnn --clip-seconds 0")
    figs = figures(at)
    acc = race(figs, STEPS)
    assert [t["name"] for t in acc["data"]] == ["vanilla RNN"]  # one seed: no band
    assert not any(t.startswith(SECONDS) for t in figs)  # one race only
    at.toggle(key="memory-lab-compare").set_value(True).run()
    names = [t["name"] for t in race(figures(at), STEPS)["data"]]
    assert "LSTM (shipped)" in names
    at.radio(key="memory-lab-view").set_value("recall").run()  # the shipped run is still there
    assert len(at.session_state["memory-lab-runs"]) == 1


def test_a_live_wall_time_parity_run(lab_page):
    at = lab_page
    at.selectbox(key="memory-lab-task").set_value("parity").run()
    at.multiselect(key="memory-lab-budgets").set_value(["seconds"]).run()
    at.slider(key="memory-lab-seconds").set_value(5).run()
    at.slider(key="memory-lab-distance").set_value(10).run()
    at.multiselect(key="memory-lab-models").set_value(["lstm"]).run()
    at.button(key="memory-lab-train").click().run()
    job = at.session_state["memory-lab-job"]
    assert job.wait(90) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    result = at.session_state["memory-lab-runs"][0]
    assert result["kind"] == "parity" and list(result["views"]) == ["seconds"] and result["chance"] == 0.5
    assert race(figures(at), SECONDS)
    assert any(c.value.startswith("In the same time: LSTM") for c in at.caption)


def test_corrupt_or_missing_shipped_results_say_what_to_do(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_SHIPPED_DIR", str(tmp_path))
    app.run()
    app.switch_page("pages/memory_lab.py").run()
    assert not app.exception and any("seqcore train memory" in i.value for i in app.info)
    (tmp_path / "memory_lab_default.json").write_text("{not json")
    app.run()
    assert not app.exception
    assert any("unreadable" in e.value and "rebuild it" in e.value for e in app.error)
    assert app.button(key="memory-lab-train")  # training still offered
    (tmp_path / "memory_lab_default.json").write_text(json.dumps({"copying": {}}))  # valid JSON, wrong shape
    app.run()
    assert not app.exception and any("unreadable" in e.value for e in app.error)


def test_a_runs_transformer_is_kept_with_one_click_and_opens_in_the_explorer(home, app):
    """Keep (issue 18, item 5): the run's Transformer and its card go to the user registry, load back with the
    weights the card was scored with, open in the attention explorer and are listed on the home page."""
    from seqcore.checkpoints import as_info
    from seqcore.tasks import memory_lab as lab
    from seqcore.tasks.attention_maths import run_model
    from seqcore.tasks.probe import transformer_checkpoints
    from tests.conftest import make_app

    at = open_page("memory_lab", app)
    at.slider(key="memory-lab-distance").set_value(10).run()
    at.slider(key="memory-lab-steps").set_value(100).run()
    at.multiselect(key="memory-lab-models").set_value(["rnn", "transformer"]).run()
    at.button(key="memory-lab-train").click().run()
    job = at.session_state["memory-lab-job"]
    assert job.wait(90) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert "view" not in at.query_params and at.query_params["models"] == "rnn,transformer"  # a run is not linked
    assert any(c.value.startswith("This run's Transformer") and "recurrent models are not kept" in c.value
               for c in at.caption)
    at.button(key="memory-lab-keep-1").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (weights,) = (home / "checkpoints").glob("*.safetensors")
    name = weights.stem
    assert name == "memory-recall-transformer" and (home / "checkpoints" / f"{name}.json").exists()
    assert any(s.value.startswith(f"Kept as **{name}**") and "attention explorer" in s.value for s in at.success)
    assert "memory-lab-keep-1" not in [b.key for b in at.button]  # kept once, not twice

    kept, card = lab.load(name)  # what the explorer and `seqcore info` read: the file alone
    assert list(kept.models) == ["transformer"] and kept.distances == (5, 10) and kept.task.max_distance == 10
    run = at.session_state["memory-lab-runs"][0]
    assert card["metrics"]["accuracy"] == dict(zip(["5", "10"], lab.first_run(run)["transformer"]["accuracy"],
                                                   strict=True))
    assert lab.evaluate(kept)["accuracy"]["transformer"] == card["metrics"]["accuracy"]  # the weights it was scored on
    info = as_info(name, lab.TASK)
    assert name in [c.name for c in transformer_checkpoints()]
    probe = lab.attention_probe(info)
    maps = run_model(probe).self_attention  # what the explorer draws: per layer (heads, T, T)
    assert maps and all(m.shape[1:] == (len(probe.tokens),) * 2 for m in maps)

    explorer = open_page("attention")
    options = explorer.selectbox(key="attention-model").options
    explorer.selectbox(key="attention-model").set_value(next(i for i, o in enumerate(options) if o.startswith(name)))
    explorer.radio(key="attention-source").set_value("The model's own example").run()
    assert not explorer.exception and not explorer.error, [e.value for e in explorer.error]
    assert explorer.query_params["model"] == name

    front = make_app()  # the home page of a new session lists it (with Delete)
    front.run()
    assert not front.exception and f"`{name}` (transformer)" in [m.value for m in front.markdown]
    assert front.button(key=f"home-delete-{name}")

    at.multiselect(key="memory-lab-models").set_value(["rnn"]).run()  # a run without a Transformer says why
    at.button(key="memory-lab-train").click().run()
    assert at.session_state["memory-lab-job"].wait(90)
    at.run()
    assert at.radio(key="memory-lab-view").value == 2
    assert any("Nothing to keep from this run: it trained no Transformer" in c.value for c in at.caption)
    assert "memory-lab-keep-2" not in [b.key for b in at.button]
