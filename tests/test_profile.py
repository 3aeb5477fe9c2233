"""pages/_profile.py: off by default, and with SEQCORE_PROFILE_DIR set it records the run, even one that raises."""

import pytest

from pages._profile import profiled


def busy() -> int:
    return sum(i * i for i in range(200_000))


def test_off_by_default_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("SEQCORE_PROFILE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with profiled("forecast"):
        busy()
    assert list(tmp_path.iterdir()) == []


def test_records_the_page_run(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_PROFILE_DIR", str(tmp_path / "prof"))
    with profiled("attention/../x"):
        busy()
    texts = sorted((tmp_path / "prof").glob("*.txt"))
    assert len(texts) == 1 and texts[0].name.startswith("attention_x-")
    assert "busy" in texts[0].read_text()
    assert texts[0].with_suffix(".html").stat().st_size > 1000


def test_a_run_that_stops_early_is_still_written(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_PROFILE_DIR", str(tmp_path))
    with pytest.raises(RuntimeError), profiled("music"):
        busy()
        raise RuntimeError("st.rerun leaves through an exception")
    assert len(list(tmp_path.glob("music-*.txt"))) == 1
