"""Background jobs: results, errors kept as messages, stop flag, and the server-wide limit."""

import threading

import pytest

from seqcore import jobs
from seqcore.errors import InputError, TrainingLimitError


def test_result_and_progress():
    def fn(report, stop):
        for i in range(3):
            report(i)
        return "done"

    job = jobs.Job(fn, name="ok")
    assert job.wait(10)
    assert job.result == "done" and job.snapshot() == [0, 1, 2] and job.error is None and not job.running


def test_errors_become_messages_not_exceptions():
    def boom(report, stop):
        raise InputError("epochs must be at least 1")

    def crash(report, stop):
        raise RuntimeError("out of memory")

    a, b = jobs.Job(boom), jobs.Job(crash)
    assert a.wait(10) and b.wait(10)
    assert a.error == "epochs must be at least 1"
    assert b.error == "RuntimeError: out of memory" and b.result is None


def test_stop_flag_reaches_the_job():
    started = threading.Event()

    def loop(report, stop):
        started.set()
        n = 0
        while not stop.wait(0.01):
            n += 1
        return n

    job = jobs.Job(loop)
    started.wait(5)
    job.stop.set()
    assert job.wait(5) and isinstance(job.result, int)


def test_server_wide_limit_refuses_extra_jobs():
    gate = threading.Event()
    running = [jobs.Job(lambda r, s: gate.wait(10)) for _ in range(jobs.MAX_CONCURRENT)]
    with pytest.raises(TrainingLimitError, match="already running"):
        jobs.Job(lambda r, s: None)
    gate.set()
    assert all(j.wait(10) for j in running)
    extra = jobs.Job(lambda r, s: 1)  # slots are released when jobs end
    assert extra.wait(10) and extra.result == 1
