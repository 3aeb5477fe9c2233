"""The memory lab page through Streamlit's AppTest: shipped results at once, a live run, bad input."""

import json

import pytest

from seqcore.checkpoints import shipped_dir
from tests.conftest import open_page

SHIPPED = shipped_dir() / "memory_lab_default.json"


@pytest.fixture
def lab_page(app):
    return open_page("memory_lab", app)


def figures(at) -> dict:
    return {json.loads(el.proto.spec)["layout"]["title"]["text"]: json.loads(el.proto.spec)
            for el in at.main.get("plotly_chart")}


def test_first_visit_shows_the_shipped_curves(lab_page):
    at = lab_page
    assert SHIPPED.exists(), "the shipped default results are part of the repo"
    assert not at.error
    assert at.radio(key="memory-lab-view").value == 0
    figs = figures(at)
    acc = figs["Recall accuracy on held-out sequences"]
    shipped = json.loads(SHIPPED.read_text())
    assert {t["name"] for t in acc["data"]} == {"vanilla RNN", "LSTM", "Transformer"}
    assert acc["data"][0]["x"] == shipped["distances"]
    chance = [s for s in acc["layout"]["shapes"] if s["y0"] == s["y1"] == shipped["chance"]]
    assert chance, "chance level is drawn"
    grad = next(f for t, f in figs.items() if t.startswith("Gradient norm through time"))
    assert grad["layout"]["yaxis"]["type"] == "log"
    assert "Gradient norm before clipping" in figs and "Training loss" in figs
    assert at.latex and any("tanh" in x.value for x in at.latex)
    assert any("Hypothesis" in m.value for m in at.markdown)
    table = at.dataframe[0].value
    assert list(table["model"]) == ["vanilla RNN", "LSTM", "Transformer"]


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
    assert "memory-lab-job" not in at.session_state


def test_live_run_trains_and_is_kept_beside_the_shipped_one(lab_page):
    at = lab_page
    at.slider(key="memory-lab-distance").set_value(10).run()
    at.slider(key="memory-lab-seconds").set_value(5).run()
    at.multiselect(key="memory-lab-models").set_value(["rnn"]).run()
    at.checkbox(key="memory-lab-clip").set_value(False).run()
    at.button(key="memory-lab-train").click().run()
    assert not at.exception, at.exception
    job = at.session_state["memory-lab-job"]
    assert job.wait(60) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    assert at.radio(key="memory-lab-view").value == 1
    assert at.radio(key="memory-lab-view").options == ["Shipped default", "Your run 1"]
    result = at.session_state["memory-lab-runs"][0]
    assert result["distances"] == [5, 10] and list(result["models"]) == ["rnn"]
    assert result["command"] == "seqcore memory-lab --distances 5,10 --seconds 5 --seed 0 --models rnn --clip-seconds 0"
    acc = figures(at)["Recall accuracy on held-out sequences"]
    assert [t["name"] for t in acc["data"]] == ["vanilla RNN"]
    at.toggle(key="memory-lab-compare").set_value(True).run()
    names = [t["name"] for t in figures(at)["Recall accuracy on held-out sequences"]["data"]]
    assert "LSTM (shipped)" in names
    at.radio(key="memory-lab-view").set_value(0).run()  # the shipped run is still there
    assert len(at.session_state["memory-lab-runs"]) == 1


def test_corrupt_or_missing_shipped_results_say_what_to_do(app, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_SHIPPED_DIR", str(tmp_path))
    app.run()
    app.switch_page("pages/memory_lab.py").run()
    assert not app.exception and any("seqcore memory-lab --out" in i.value for i in app.info)
    (tmp_path / "memory_lab_default.json").write_text("{not json")
    app.run()
    assert not app.exception
    assert any("unreadable" in e.value and "rebuild it" in e.value for e in app.error)
    assert app.button(key="memory-lab-train")  # training still offered
