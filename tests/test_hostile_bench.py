"""bench/hostile.py's report (no browser: tests/test_hostile_e2e.py drives the catalogue in Chromium)."""

import subprocess
import sys

from bench import hostile
from tests.conftest import ROOT
from tests.hostile_inputs import TARGETS, WIDGET


def target(key: str):
    return next(t for t in TARGETS if t.key == key)


def test_outcome_follows_the_catalogue():
    ticker, review = target("forecast-ticker"), target("sentiment-text-0")
    assert ticker.refuse["emoji"] == WIDGET and hostile.outcome(ticker, "emoji") == "kept out by the box"
    assert hostile.outcome(ticker, "empty") == "refused with a message"
    assert hostile.outcome(review, "100,000 characters") == "accepted, with a warning"
    assert hostile.outcome(review, "<script> injection") == "accepted"


def test_report_counts_per_box_and_lists_problems_and_messages():
    rows = [{"page": "sentiment", "box": "sentiment-text-0", "case": "empty", "outcome": "refused with a message",
             "message": "The review is empty: type a few words | then press Ctrl+Enter"},
            {"page": "sentiment", "box": "sentiment-text-0", "case": "emoji", "outcome": "accepted, with a warning",
             "message": "write the review in English words " + "x" * 200},
            {"page": "sentiment", "box": "sentiment-text-0", "case": "NUL bytes", "outcome": "accepted",
             "message": ""},
            {"page": "forecast", "box": "forecast-ticker", "case": "emoji", "outcome": "kept out by the box",
             "message": ""}]
    failures = ["forecast?horizon=5&models=linear / forecast-ticker / emoji: the box took the text"]
    timings = [{"page": "sentiment", "targets": 1, "cases": 3, "seconds": 12.0},
               {"page": "forecast", "targets": 1, "cases": 1, "seconds": 3.0}]
    text = hostile.report(rows, failures, timings)
    assert "**1 problem(s)**" in text and "forecast-ticker / emoji: the box took the text" in text
    assert "| sentiment | `sentiment-text-0` | 3 | 1 | 0 | 2 (1) | 0 |" in text
    assert "| forecast | `forecast-ticker` | 1 | 0 | 1 | 0 (0) | 1 |" in text
    assert "type a few words \\| then" in text  # a message's pipe does not break the table
    assert "x" * 120 not in text and "…" in text  # long messages are cut
    assert "in 15 s (sentiment 12 s, forecast 3 s)" in " ".join(text.split())
    clean = hostile.report(rows, [], timings)
    assert "**No problem**" in clean


def test_unknown_page_is_refused_with_the_pages_that_have_rows():
    run = subprocess.run([sys.executable, "bench/hostile.py", "--pages", "nowhere", "--no-write"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "no hostile-input rows for nowhere" in run.stderr
    assert "sentiment" in run.stderr and "Traceback" not in run.stderr


def test_the_answer_is_the_message_with_the_catalogues_words():
    t = target("captioning-upload")
    said = [("info", "The models only know these synthetic scenes."),
            ("error", "bomb.png declares more than 178 megapixels: upload an image under 40 megapixels")]
    assert hostile.answer(t, "decompression-bomb PNG", said).startswith("bomb.png declares")
    assert hostile.answer(t, "PNG image", said) == "The models only know these synthetic scenes."
    assert hostile.answer(t, "0-byte file", [("success", "Saved")]) == ""
