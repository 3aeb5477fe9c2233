"""The attention explorer page through Streamlit's AppTest: widgets found by key."""

import json

import pytest

from seqcore.tasks.attention import DEFAULT_NAME, MAX_CHARS
from tests.conftest import open_page


@pytest.fixture
def explorer(app):
    return open_page("attention", app)


def charts(at) -> dict:
    """Plotly charts by key, as their figure JSON."""
    out = {}
    for el in at.main.get("plotly_chart"):
        fig = json.loads(el.proto.spec)
        out[el.proto.id] = fig
    return out


def titles(at) -> list[str]:
    return [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.main.get("plotly_chart")]


def test_default_model_and_the_lectures_example(explorer):
    at = explorer
    assert DEFAULT_NAME in at.selectbox(key="att-model").format_func(at.selectbox(key="att-model").value)
    assert at.text_input(key="att-text").value == "我是mika"
    assert not at.error
    assert any("<unk>" in c.value and "我" in c.value for c in at.caption)
    assert any("not an explanation" in w.value for w in at.warning)
    assert at.latex and "sqrt" in at.latex[0].value
    assert "<bos>" in at.dataframe[0].value["token"].tolist()
    assert any("Check against the model" in c.value for c in at.caption)
    figs = [json.loads(el.proto.spec) for el in at.main.get("plotly_chart")]
    assert len(figs) == 11  # the step-through's matrices; the other views draw only when their tab opens
    assert not any("headview" in el.proto.id or "modelview" in el.proto.id for el in at.main.get("plotly_chart"))
    weights = next(f for f in figs if f["layout"]["title"]["text"].startswith("softmax, temperature"))
    assert weights["data"][0]["y"] == ["0:<bos>", "1:我", "2:是", "3:m", "4:i", "5:k", "6:a"]
    assert weights["layout"]["xaxis"]["title"]["text"] == "key"


def test_controls_change_every_view_without_errors(explorer):
    at = explorer
    at.text_input(key="att-text").set_value("the movie is not good").run()
    at.selectbox(key="att-layer").set_value(2).run()
    at.selectbox(key="att-head").set_value(3).run()
    at.slider(key="att-temp").set_value(0.3).run()
    at.toggle(key="att-hide").set_value(True).run()
    assert "softmax, temperature 0.3" in titles(at)

    def open_tab(label):
        at.session_state["att-view"] = label  # what clicking the tab does: only that view runs
        at.run()

    open_tab("Head view")
    at.multiselect(key="att-hv-heads").set_value([0, 1]).run()
    at.selectbox(key="att-hv-token").set_value(4).run()
    figs = [json.loads(el.proto.spec) for el in at.main.get("plotly_chart")]
    head_view = figs[titles(at).index("Layer 2, self-attention")]
    assert {t["name"] for t in head_view["data"] if t.get("name")} == {"head 0", "head 1"}
    open_tab("Model view")
    at.selectbox(key="att-mv-cell").set_value((1, 2)).run()
    figs = [json.loads(el.proto.spec) for el in at.main.get("plotly_chart")]
    enlarged = figs[titles(at).index("layer 1, head 2")]
    assert "0:<bos>" not in enlarged["data"][0]["y"]  # hidden special token
    open_tab("Neuron view")
    at.selectbox(key="att-nv-query").set_value(5).run()
    assert "q · k" in titles(at)
    open_tab("Average & rollout")
    assert any(t.startswith("Rollout of self-attention") for t in titles(at))
    assert not at.exception, at.exception
    assert not at.error


def test_empty_text_shows_an_error(explorer):
    at = explorer
    at.text_input(key="att-text").set_value("   ").run()
    assert not at.exception
    assert at.error and "empty" in at.error[0].value


def test_too_long_text_names_the_limit(explorer):
    at = explorer
    at.text_input(key="att-text").set_value("a" * (MAX_CHARS + 50)).run()
    assert not at.exception
    assert at.error and str(MAX_CHARS) in at.error[0].value and "shorten" in at.error[0].value


def test_the_models_own_example(explorer):
    at = explorer
    at.radio(key="att-source").set_value("The model's own example").run()
    assert not at.exception and not at.error


def test_switching_to_another_tasks_transformer(explorer):
    at = explorer
    options = at.selectbox(key="att-model").options
    others = [i for i, o in enumerate(options) if not o.startswith(DEFAULT_NAME)]
    if not others:
        pytest.skip("no other task has shipped a Transformer yet")
    at.selectbox(key="att-layer").set_value(2).run()
    at.radio(key="att-source").set_value("The model's own example").run()  # "我是mika" is not for every model
    for i in others:
        at.selectbox(key="att-model").set_value(i).run()
        assert not at.exception, (options[i], at.exception)
        assert not at.error, (options[i], [e.value for e in at.error])
    at.radio(key="att-source").set_value("My text").run()
    for i in others:  # typed text either works or is refused with a message, never a traceback
        at.selectbox(key="att-model").set_value(i).run()
        assert not at.exception, (options[i], at.exception)
