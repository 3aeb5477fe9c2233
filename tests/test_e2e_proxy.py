"""Two replicas behind nginx (make serve): sessions stick to a replica, and survive losing one."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ARTIFACTS, ROOT, _free_port, goto, new_context, wait_healthy, wait_idle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        msg = "nginx is missing (make test installs Debian's nginx as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    run_dir = tmp_path_factory.mktemp("serve")
    port, base = _free_port(), _free_port() + 100
    env = {**os.environ, "REPLICAS": "2", "PORT": str(port), "BASE_PORT": str(base), "RUN_DIR": str(run_dir),
           "PY": sys.executable}
    log = open(run_dir / "serve.log", "w")  # noqa: SIM115 (open for the fixture's lifetime)
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "serve.sh")], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    if not wait_healthy(url, proc, 180):
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"serve.sh did not come up: {(run_dir / 'serve.log').read_text()[-2000:]}")
    yield url, run_dir
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def replica_of(page) -> str:
    text = page.get_by_text(re.compile(r"Served by replica \d+")).inner_text()
    return re.search(r"replica (\d+)", text).group(1)


def open_home(browser, url):
    ctx = new_context(browser)
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    goto(page, url)
    return ctx, page


def test_a_trained_model_survives_reruns_through_the_proxy(proxy, browser):
    url, _ = proxy
    ctx, page = open_home(browser, url)
    replica = replica_of(page)
    goto(page, f"{url}/forecast")
    epochs = page.locator(".st-key-forecast-epochs input")
    epochs.fill("2")
    epochs.press("Enter")
    wait_idle(page)
    page.locator(".st-key-forecast-train button").click()
    page.locator(".st-key-forecast-download-lstm").wait_for(timeout=180_000)  # the session-trained LSTM
    for value in ("3", "4"):  # reruns of the same session, over the same websocket and replica
        epochs.fill(value)
        epochs.press("Enter")
        wait_idle(page)
        page.locator(".st-key-forecast-download-lstm[data-stale='false']").wait_for()  # still there after the rerun
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_role("link", name="Home").first.click()
    wait_idle(page)
    assert replica_of(page) == replica
    ctx.close()


def test_sessions_stick_and_survive_a_dead_replica(proxy, browser):
    url, run_dir = proxy
    ctx, page = open_home(browser, url)
    first = replica_of(page)
    for _ in range(3):  # reloads and reruns come back to the same process
        page.reload()
        goto(page, url)
        assert replica_of(page) == first
    seen, others = {first}, []
    for _ in range(12):  # new browsers are spread over both replicas
        c, p = open_home(browser, url)
        seen.add(replica_of(p))
        others.append(c)
        if len(seen) == 2:
            break
    assert seen == {"1", "2"}

    pid = int((run_dir / f"replica-{first}.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        try:
            os.kill(pid, 0)
            time.sleep(0.25)
        except ProcessLookupError:
            break
    survivor = ({"1", "2"} - {first}).pop()
    c, p = open_home(browser, url)  # a new session lands on the live replica
    assert replica_of(p) == survivor
    assert p.locator("[data-testid='stException']").count() == 0
    p.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "proxy-survivor.png"))
    goto(page, url)  # the pinned browser fails over too
    assert replica_of(page) == survivor
    for x in [ctx, c, *others]:
        x.close()
