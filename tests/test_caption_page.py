"""AppTest of the captioning page: captions with attention, uploads, scores, training."""

from PIL import Image

from tests.conftest import open_page
from tests.helpers import image_bytes

PAGE = "pages/captioning.py"


def texts(app) -> str:
    return " ".join(m.value for m in app.markdown) + " ".join(c.value for c in app.caption)




def test_random_scene_gets_both_captions_and_attention(app):
    open_page(PAGE, app)
    assert app.radio(key="captioning-source").value == "Random held-out scene"
    md = texts(app)
    assert "model caption-lstm-shapes" in md and "model caption-transformer-shapes" in md
    assert app.select_slider(key="captioning-word-lstm").value == 0
    words = app.select_slider(key="captioning-word-lstm").options
    assert any(im.captions == words for im in app.get("image"))  # small multiples: one image per word
    # Only the open tab draws its maps (what clicking the tab does): the Transformer's are not there yet.
    assert not [s for s in app.selectbox if s.key == "captioning-head"]
    app.button(key="captioning-new").click().run()
    app.session_state["captioning-view"] = "Where the Transformer looked"
    app.run()
    app.selectbox(key="captioning-head").set_value("layer 1, head 2").run()
    assert app.select_slider(key="captioning-word-transformer").options  # its own word slider, now drawn
    assert not app.exception and not app.error


def test_build_a_scene_and_beam_search(app):
    open_page(PAGE, app)
    app.radio(key="captioning-source").set_value("Build a scene").run()
    app.selectbox(key="captioning-shape1").set_value("triangle")
    app.selectbox(key="captioning-colour1").set_value("yellow").run()
    app.slider(key="captioning-beam").set_value(3).run()
    assert not app.exception and not app.error
    assert "beam 3" in texts(app)
    assert any(m.value.startswith("### “a ") for m in app.markdown)  # a caption for the built scene


def test_bad_uploads_show_errors(app):
    open_page(PAGE, app)
    app.radio(key="captioning-source").set_value("Upload an image").run()
    app.file_uploader(key="captioning-upload").set_value(("notes.txt", b"not an image", "text/plain")).run()
    assert not app.exception
    assert "not an image" in app.error[0].value
    dot = image_bytes(Image.new("RGB", (4, 4)))
    app.file_uploader(key="captioning-upload").set_value(("dot.png", dot, "image/png")).run()
    assert "at least 16x16" in app.error[0].value
    app.file_uploader(key="captioning-upload").set_value(
        ("gray.png", image_bytes(Image.new("LA", (100, 80), (90, 128))), "image/png")).run()
    assert not app.error and not app.exception
    assert any("transparent" in i.value for i in app.info)
    assert any("only know these synthetic scenes" in w.value for w in app.warning)


def test_score_wrong_split_is_an_error_and_training_runs(app):
    open_page(PAGE, app)
    app.selectbox(key="captioning-train-dataset").set_value("digits")
    app.selectbox(key="captioning-train-split").set_value("compositional").run()
    app.button(key="captioning-train").click().run()
    assert "compositional split exists for shape scenes only" in app.error[0].value
    app.selectbox(key="captioning-train-split").set_value("iid")
    app.select_slider(key="captioning-train-n").set_value(500)
    app.slider(key="captioning-train-epochs").set_value(1).run()
    app.button(key="captioning-train").click().run()
    job = app.session_state["captioning-job"]
    assert job.wait(180), "training did not finish"
    assert job.error is None, job.error
    app.run()
    assert not app.exception
    assert any("Saved caption-lstm-digits-mine" in s.value for s in app.success)


def test_a_retrained_checkpoint_is_read_again(app, shipped, monkeypatch):
    """The page caches models by (name, weights mtime): new weights on disk must be loaded, not the old ones."""
    import os

    from seqcore.tasks import captioning

    loaded = []
    real_load = captioning.load

    def counting_load(name):
        loaded.append(name)
        return real_load(name)

    monkeypatch.setattr(captioning, "load", counting_load)
    open_page(PAGE, app)
    assert "caption-lstm-shapes" in loaded
    app.run()
    before = len(loaded)
    assert loaded.count("caption-lstm-shapes") == 1  # the rerun used the cache

    weights = shipped / "caption-lstm-shapes.safetensors"
    old = weights.stat()
    os.utime(weights, (old.st_atime, old.st_mtime + 60))  # what saving a retrained model does to the file
    app.run()
    assert not app.exception
    assert loaded[before:].count("caption-lstm-shapes") == 1, "the retrained checkpoint was not reloaded"
