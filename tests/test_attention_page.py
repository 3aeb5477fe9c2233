"""The attention explorer page through Streamlit's AppTest: widgets found by key."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from pages._attention_figures import clicked_cell, head_view_html, json_for_html, model_view
from seqcore.tasks.attention import DEFAULT_NAME, MAX_CHARS
from tests.conftest import open_page


@pytest.fixture
def explorer(app):
    return open_page("attention", app)


def titles(at) -> list[str]:
    return [json.loads(el.proto.spec)["layout"]["title"]["text"] for el in at.main.get("plotly_chart")]


def open_tab(at, label):
    at.session_state["attention-view"] = label  # what clicking the tab does: only that view runs
    at.run()


class Scripts(HTMLParser):
    """The <script> blocks of a page, as a browser's tokenizer splits them."""

    def __init__(self):
        super().__init__()
        self.blocks, self._in = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in = [dict(attrs), ""]

    def handle_data(self, data):
        if self._in is not None:
            self._in[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in is not None:
            self.blocks.append(tuple(self._in))
            self._in = None


def head_view_data(html: str) -> dict:
    parser = Scripts()
    parser.feed(html)
    data = [text for attrs, text in parser.blocks if attrs.get("type") == "application/json"]
    assert len(data) == 1 and len(parser.blocks) == 2, parser.blocks  # the data block and the view's own code
    return json.loads(data[0])


def click_model_view(at, layer: int, head: int):
    """What a click on one small map sends: a plotly selection of that map's point (customdata [layer, head]).

    AppTest cannot click a chart, so the selection goes in as the chart's widget state, as the browser sends it.
    """
    chart = next(el for el in at.main.get("plotly_chart") if el.proto.id.endswith("attention-fig-modelview"))
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = chart.proto.id
    state.string_value = json.dumps({"selection": {"points": [{"curve_number": 1, "point_number": 0, "point_index": 0,
                                                               "customdata": [layer, head]}],
                                                   "point_indices": [0], "box": [], "lasso": []}})
    at._run(states)


def test_default_model_and_the_lectures_example(explorer):
    at = explorer
    assert DEFAULT_NAME in at.selectbox(key="attention-model").format_func(at.selectbox(key="attention-model").value)
    assert at.text_input(key="attention-text").value == "我是mika"
    assert not at.error
    assert any("<unk>" in c.value and "我" in c.value for c in at.caption)
    assert any("not an explanation" in w.value for w in at.warning)
    assert at.latex and "sqrt" in at.latex[0].value
    assert "<bos>" in at.dataframe[0].value["token"].tolist()
    assert any("Check against the model" in c.value for c in at.caption)
    figs = [json.loads(el.proto.spec) for el in at.main.get("plotly_chart")]
    # The step-through's 11 matrices in 4 charts (each step's as panels); other views draw when their tab opens.
    assert [f["layout"]["title"]["text"] for f in figs] == ["Embeddings", "Q, K, V", "Scores → weights",
                                                            "softmax(·) V"]
    assert [len(f["data"]) for f in figs] == [3, 3, 4, 1]
    assert not any("modelview" in el.proto.id for el in at.main.get("plotly_chart")) and not at.get("iframe")
    step4 = figs[2]
    assert [a["text"] for a in step4["layout"]["annotations"]] == [
        "scores QKᵀ", "scaled: QKᵀ / √16", "causal mask: -inf blank", "softmax, temperature 1"]
    weights = step4["data"][3]
    assert weights["y"] == ["0:<bos>", "1:我", "2:是", "3:m", "4:i", "5:k", "6:a"]
    assert step4["layout"]["xaxis4"]["title"]["text"] == "key"
    assert weights["coloraxis"] == "coloraxis2" and step4["layout"]["coloraxis2"]["cmax"] == 1  # 0..1 for weights
    z = np.array(weights["z"], dtype=float)
    np.testing.assert_allclose(z.sum(axis=1), 1, atol=1e-4)
    # one CSV per matrix, each under its chart
    csv = [b for b in at.get("download_button") if "attention-csv-" in b.proto.id]
    assert len(csv) == 11, [b.proto.id for b in csv]


def test_controls_change_every_view_without_errors(explorer):
    at = explorer
    at.text_input(key="attention-text").set_value("the movie is not good").run()
    at.selectbox(key="attention-layer").set_value(2).run()
    at.selectbox(key="attention-head").set_value(3).run()
    at.slider(key="attention-temp").set_value(0.3).run()
    at.toggle(key="attention-hide").set_value(True).run()
    step4 = next(json.loads(c.proto.spec) for c in at.main.get("plotly_chart") if c.proto.id.endswith("-weights"))
    assert "softmax, temperature 0.3" in [a["text"] for a in step4["layout"]["annotations"]]

    open_tab(at, "Head view")
    data = head_view_data(at.get("iframe")[0].proto.srcdoc)
    assert data["title"] == "Layer 2, self-attention"
    assert data["queries"] == data["keys"] and "0:<bos>" not in data["queries"]  # special tokens hidden
    assert [h["head"] for h in data["heads"]] == [0, 1, 2, 3]
    assert {h for h, *_ in data["lines"]} <= {0, 1, 2, 3} and all(w >= 0.02 for *_, w in data["lines"])
    open_tab(at, "Model view")
    at.selectbox(key="attention-mv-cell").set_value((1, 2)).run()
    figs = [json.loads(el.proto.spec) for el in at.main.get("plotly_chart")]
    enlarged = figs[titles(at).index("layer 1, head 2")]
    assert "0:<bos>" not in enlarged["data"][0]["y"]  # hidden special token
    assert figs[0]["layout"]["shapes"][0]["xref"] == "x7 domain"  # the enlarged map is outlined in the grid
    open_tab(at, "Neuron view")
    at.selectbox(key="attention-nv-query").set_value(5).run()
    assert "q · k" in titles(at)
    open_tab(at, "Average & rollout")
    assert any(t.startswith("Rollout of self-attention") for t in titles(at))
    assert not at.exception, at.exception
    assert not at.error


def test_empty_text_shows_an_error(explorer):
    at = explorer
    at.text_input(key="attention-text").set_value("   ").run()
    assert not at.exception
    assert at.error and "empty" in at.error[0].value


def test_too_long_text_names_the_limit(explorer):
    at = explorer
    at.text_input(key="attention-text").set_value("a" * (MAX_CHARS + 50)).run()
    assert not at.exception
    assert at.error and str(MAX_CHARS) in at.error[0].value and "shorten" in at.error[0].value


def test_the_models_own_example(explorer):
    at = explorer
    at.radio(key="attention-source").set_value("The model's own example").run()
    assert not at.exception and not at.error


def test_switching_to_another_tasks_transformer(explorer):
    at = explorer
    options = at.selectbox(key="attention-model").options
    others = [i for i, o in enumerate(options) if not o.startswith(DEFAULT_NAME)]
    assert others, "every task ships a Transformer the explorer can open"
    at.selectbox(key="attention-layer").set_value(2).run()
    at.radio(key="attention-source").set_value("The model's own example").run()  # "我是mika" is not for every model
    for i in others:
        at.selectbox(key="attention-model").set_value(i).run()
        assert not at.exception, (options[i], at.exception)
        assert not at.error, (options[i], [e.value for e in at.error])
    at.radio(key="attention-source").set_value("My text").run()
    for i in others:  # typed text either works or is refused with a message, never a traceback
        at.selectbox(key="attention-model").set_value(i).run()
        assert not at.exception, (options[i], at.exception)


@pytest.mark.parametrize("name", ["sentiment-transformer", "music-transformer"])
def test_a_new_text_reuses_the_loaded_model(explorer, monkeypatch, name):
    """Each new text used to reload the checkpoint (and keep a model copy per text): now it is read once."""
    import streamlit as st

    from seqcore import checkpoints

    st.cache_resource.clear()
    checkpoints.clear_shared()
    reads = []
    real = checkpoints.load_file

    def counted(path, *args, **kwargs):
        reads.append(Path(path).stem)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "load_file", counted)
    at = explorer
    options = at.selectbox(key="attention-model").options
    at.selectbox(key="attention-model").set_value(
        next(i for i, o in enumerate(options) if o.startswith(f"{name} ("))).run()
    for text in ("a good film", "a dull film", "a good film"):
        at.text_input(key="attention-text").set_value(text).run()
        assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert reads.count(name) == 1, reads


def test_clicking_a_small_map_enlarges_it(explorer):
    at = explorer
    open_tab(at, "Model view")
    assert "layer 0, head 0" in titles(at)  # the page's layer and head until a map is clicked
    click_model_view(at, 2, 1)
    assert not at.exception, at.exception
    assert "layer 2, head 1" in titles(at) and at.selectbox(key="attention-mv-cell").value == (2, 1)
    at.selectbox(key="attention-mv-cell").set_value((1, 3)).run()  # the selectbox still moves it (keyboard, tests)
    assert "layer 1, head 3" in titles(at)


def test_model_view_points_name_their_own_map():
    """Each map's clickable point carries [layer, head] and sits on that map's axes."""
    rng = np.random.default_rng(0)
    att = [rng.dirichlet(np.ones(5), size=(3, 5)) for _ in range(2)]  # 2 layers, (3 heads, 5, 5)
    fig = model_view(att, title="t", selected=(1, 2))
    heat = {t["xaxis"]: t for t in fig["data"] if t["type"] == "heatmap"}
    points = [t for t in fig["data"] if t["type"] == "scatter"]
    assert len(heat) == len(points) == 6
    for p in points:
        layer, head = p["customdata"][0]
        assert p["yaxis"] == heat[p["xaxis"]]["yaxis"]
        np.testing.assert_array_equal(heat[p["xaxis"]]["z"], np.rint(att[layer][head] * 100))  # percent
        assert clicked_cell([{"curve_number": 0, "customdata": p["customdata"][0]}]) == (layer, head)
    assert fig["layout"]["hoverdistance"] == -1  # a click anywhere in a map reaches its point
    assert clicked_cell([]) is None and clicked_cell(None) is None and clicked_cell([{"x": 1}]) is None


def test_typed_markup_cannot_break_out_of_the_head_view():
    evil = "</script><script>alert(1)</script>"
    tokens = ["0:<bos>", f"1:{evil}", "2:<!--", "3:&amp;", "4:\u2028"]
    html = head_view_html([(0, 1, 1, 0.5)], tokens, tokens, 2, title=f"Layer 0 {evil}")
    data = head_view_data(html)  # exactly two script blocks: the typed text did not open or close one
    assert data["queries"] == tokens and data["title"] == f"Layer 0 {evil}"
    block = json_for_html(data)
    assert "<" not in block and ">" not in block and "&" not in block
    assert "<script>alert" not in html and "</script><script>" not in html
    # nothing in the view's code writes markup: tokens go in with textContent
    assert not re.search(r"innerHTML\s*=\s*[^'\"]", html) and "insertAdjacentHTML" not in html


def test_cross_attention_models_say_rollout_is_self_attention_only(explorer):
    at = explorer
    options = at.selectbox(key="attention-model").options
    cross = [i for i, o in enumerate(options) if o.startswith("caption-transformer")]
    assert cross, "the shipped caption Transformers have cross-attention"
    at.radio(key="attention-source").set_value("The model's own example").run()
    at.selectbox(key="attention-model").set_value(cross[0]).run()
    at.selectbox(key="attention-kind").set_value("cross").run()
    assert [t for t in titles(at) if "," in t or t == "Q"] == ["Q", "K, V"]  # keys have other rows than queries
    open_tab(at, "Average & rollout")
    assert not at.exception, at.exception
    assert any("self-attention only" in i.value for i in at.info)
    for view in ("Head view", "Model view", "Neuron view"):
        open_tab(at, view)
        assert not at.exception and not at.error, (view, at.exception)
        if view == "Head view":
            data = head_view_data(at.get("iframe")[0].proto.srcdoc)
            assert data["title"].endswith("cross-attention") and data["keys"] != data["queries"]
