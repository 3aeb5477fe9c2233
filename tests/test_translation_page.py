"""AppTest of the translation page: both models side by side, alignment, beam tree, next-word choices, errors."""

import pytest

from tests.conftest import open_page
from tests.helpers import chart, messages

PAGE = "pages/translation.py"


def headlines(at) -> list[str]:
    return [m.value.removeprefix("### ") for m in at.markdown if m.value.startswith("### ")]


def table(at, column: str):
    """The dataframe that has COLUMN (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def open_tab(at, label):
    at.session_state["translation-view"] = label  # what clicking the tab does: only that view runs
    at.run()
    assert not at.exception, at.exception


def test_the_lectures_example_in_both_models(app):
    open_page(PAGE, app)
    assert app.text_area(key="translation-text-0").value == "我是mika。"
    got = headlines(app)
    assert len(got) == 2 and all(t in {"I am mika.", "I'm mika."} for t in got), got
    captions = " ".join(c.value for c in app.caption)
    assert "stand-in names" in captions and "translation memory" in captions and "held-out BLEU" in captions
    heat = chart(app, "translation-alignment")["data"][0]
    assert heat["type"] == "heatmap" and heat["x"][:2] == ["0:我", "1:是"]
    assert not messages(app)


def test_transformer_heads_beam_tree_and_next_words(app):
    open_page(PAGE, app)
    app.radio(key="translation-inside").set_value("translate-transformer").run()
    heads = app.selectbox(key="translation-head")
    assert heads.options[0].startswith("average") and "layer 1, head 1" in heads.options
    heads.set_value("layer 1, head 2").run()
    assert not app.exception
    open_tab(app, "Beam search")
    tree = chart(app, "translation-tree")
    assert any(t.get("mode") == "markers+text" for t in tree["data"])
    assert len(table(app, "normalised")) >= 1
    open_tab(app, "Next-word choices")
    topk = table(app, "chosen")
    assert list(topk.columns[:3]) == ["step", "chosen", "#1"] and len(topk) >= 3


def test_prefix_forcing_and_greedy(app):
    open_page(PAGE, app)
    app.text_area(key="translation-text-0").set_value("我们明天见。").run()
    app.slider(key="translation-beam").set_value(1).run()
    app.text_input(key="translation-prefix").set_value("Tomorrow").run()
    assert not app.exception
    assert all(t.startswith("Tomorrow") for t in headlines(app)), headlines(app)


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("我" * 5000, "5,000 characters"), ("🙂🙂", "emoji"), ("Hello world", "no Chinese"),
])
def test_bad_input_shows_one_clear_error(app, text, words):
    open_page(PAGE, app)
    app.text_area(key="translation-text-0").set_value(text).run()
    assert not app.exception
    errors = messages(app)
    assert len(errors) == 1 and words in errors[0], errors
    assert not headlines(app)
    app.text_area(key="translation-text-0").set_value("你好。").run()  # the page still works after it
    assert len(headlines(app)) == 2 and not messages(app)


def test_held_out_scores_show_models_beside_baselines(app):
    open_page(PAGE, app)
    rows = table(app, "greedy BLEU")
    models = list(rows["model"])
    assert {"translate-rnn", "translate-transformer", "translation memory", "dictionary gloss"} <= set(models)
    assert rows["BLEU"].notna().all()


def test_the_home_page_lists_translation(app):
    app.run()
    assert any("Translation" in str(link.label) for link in app.get("page_link"))


def test_a_random_sample_of_test_sentences(app):
    open_page(PAGE, app)
    app.button(key="translation-sample").click().run()
    sample = table(app, "references")
    assert len(sample) == 12 and {"Chinese", "translation memory", "references"} <= set(sample.columns)
    assert {"translate-rnn", "translate-transformer"} <= set(sample.columns)


def test_the_attention_explorer_opens_the_transformer_translator(app):
    open_page("pages/attention.py", app)
    model = app.selectbox(key="attention-model")
    index = next(i for i, label in enumerate(model.options) if "translate-transformer" in label)
    model.set_value(index).run()
    app.text_input(key="attention-text").set_value("我是mika。").run()
    assert not app.exception and not app.error
    assert "cross" in app.selectbox(key="attention-kind").options
    assert any("translating" in c.value for c in app.caption)
