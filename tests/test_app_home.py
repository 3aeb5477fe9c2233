"""The home page and router, through Streamlit's AppTest."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def declared_pages():
    tree = ast.parse((ROOT / "app.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PAGES":
            return [elt.elts[0].value for elt in node.value.elts]
    raise AssertionError("app.py has no PAGES table")


def test_home_renders_without_exception(app):
    app.run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Sequence Studio"
    assert any("Device:" in m.value for m in app.markdown)


def test_each_existing_page_is_linked_once_and_no_placeholders(app):
    pages = declared_pages()
    assert len(pages) == len(set(pages))
    app.run()
    links = [el.proto.page for el in app.main.get("page_link")]
    existing = [p for p in pages if (ROOT / p).exists()]
    assert sorted(Path(p).stem for p in links) == sorted(Path(p).stem for p in existing)
    # Every file in pages/ that is not a helper module is a declared page.
    files = {f"pages/{f.name}" for f in (ROOT / "pages").glob("*.py") if not f.name.startswith("_")}
    assert files == set(existing)


def test_kept_models_are_listed_with_their_figures_and_delete(home, monkeypatch):
    import torch

    from seqcore.checkpoints import make_card, save_checkpoint, user_dir
    from tests.conftest import make_app

    net = torch.nn.Linear(2, 2)
    save_checkpoint(net, make_card("music", "char-transformer", {}, metrics={"val_bits_per_char": 2.345}),
                    user_dir() / "tune-kept")
    save_checkpoint(net, make_card("forecast", "lstm", {}, metrics={"h5_mase": 1.01, "h5_naive_mase": 1.0}),
                    user_dir() / "prices-kept")
    monkeypatch.setenv("SEQCORE_MAX_USER_MODELS", "5")
    at = make_app()
    at.run()
    assert not at.exception
    text = [m.value for m in at.markdown]
    assert "`tune-kept` (char-transformer)" in text and "`prices-kept` (lstm)" in text
    assert "validation bits/char: 2.345" in text and "MASE at 5 steps: 1.01 (baseline 1.0)" in text
    assert any("2 of 5 models" in c.value and "200 MB" in c.value for c in at.caption)
    assert "tune-kept" not in set(at.dataframe[0].value["name"])  # the default models' table: shipped ones only
    at.button(key="home-delete-tune-kept").click().run()
    assert not at.exception and [s.value for s in at.success] == ["Deleted tune-kept."]
    assert not list(user_dir().glob("tune-kept.*")) and (user_dir() / "prices-kept.json").exists()
    assert "home-delete-tune-kept" not in [b.key for b in at.button]
    assert any("1 of 5 models" in c.value for c in at.caption)


def test_a_bad_quota_setting_is_said_on_the_home_page(home, monkeypatch):
    from tests.conftest import make_app

    monkeypatch.setenv("SEQCORE_MAX_USER_MB", "lots")
    at = make_app()
    at.run()
    assert not at.exception and any("SEQCORE_MAX_USER_MB='lots'" in e.value for e in at.error)


def test_every_default_model_shows_a_held_out_figure(app):
    """The Default models table: each shipped checkpoint with its card's headline figure (a memory card's
    `accuracy` is a per-distance dict, so its headline is the mean over distances, beside chance)."""
    from seqcore.checkpoints import list_checkpoints

    app.run()
    (table,) = [t for t in app.dataframe if "held-out metric" in t.value.columns]
    rows = table.value.to_dict("records")
    assert {r["name"] for r in rows} == {c.name for c in list_checkpoints() if c.source == "shipped"}
    missing = [r["name"] for r in rows if not r["held-out metric"] or r["value"] is None or r["value"] != r["value"]]
    assert not missing, missing
    memory = [r for r in rows if r["task"] == "memory"]
    assert memory and all(0 <= r["baseline"] < r["value"] <= 1 for r in memory), memory
