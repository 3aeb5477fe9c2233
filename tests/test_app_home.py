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
