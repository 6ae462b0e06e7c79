"""The launched app: a gradio_client call and a real browser (Debian chromium + Playwright).

Both go through the whole stack: upload, generate (with SAPIEN video), download.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unihm_core.hands import HAND_NAMES

from conftest import in_ci

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "assets" / "examples" / "mug_into_bowl"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    port = _free_port()
    out = tmp_path_factory.mktemp("outputs")
    env = dict(os.environ, UNIHM_OUTPUT_DIR=str(out), GRADIO_ANALYTICS_ENABLED="False")
    log = open(out / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited early:\n{(out / 'app.log').read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(1)
    else:
        proc.kill()
        pytest.fail("app did not start within 300 s")
    yield url, out
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_gradio_client_generate_and_download(app_url):
    from gradio_client import Client, handle_file

    from unihm_core.export import validate_json

    url, out = app_url
    client = Client(url, verbose=False)
    result = client.predict(
        handle_file(str(EXAMPLE / "color.png")), handle_file(str(EXAMPLE / "depth.png")),
        (EXAMPLE / "camera.json").read_text(), None, json.loads((EXAMPLE / "example.json").read_text())["instruction"],
        "allegro", 0, 0.7, 0.95, True, False, 1000.0, 1.0, 1.0, 1.0, api_name="/generate")
    files = result[13]  # outputs: ..., metrics, timings, physics, files, state
    paths = [f if isinstance(f, str) else f.get("path") for f in files]
    names = {Path(p).name for p in paths}
    assert {"trajectory.json", "trajectory.npz", "trajectory.csv", "meta.json", "report.json"} <= names
    doc = json.loads(Path(next(p for p in paths if p.endswith("trajectory.json"))).read_text())
    validate_json(doc)
    assert doc["hand"] == "allegro" and len(doc["q_refined"]) == doc["num_frames"]
    # the session's files live in its own folder under UNIHM_OUTPUT_DIR
    assert list(out.glob("*/run_*/trajectory.json"))


def test_gradio_client_bad_input_is_a_clear_error(app_url):
    from gradio_client import Client, handle_file

    url, _ = app_url
    client = Client(url, verbose=False)
    with pytest.raises(Exception, match="intrinsics"):
        client.predict(handle_file(str(EXAMPLE / "color.png")), handle_file(str(EXAMPLE / "depth.png")),
                       "not json", None, "pick up the mug", "allegro", 0, 0.7, 0.95, True, False,
                       1000.0, 1.0, 1.0, 1.0, api_name="/generate")


def _client_args(rgb, depth, intrinsics, instruction, hand):
    from gradio_client import handle_file

    return (handle_file(str(rgb)), handle_file(str(depth)), intrinsics, None, instruction, hand, 0, 0.7, 0.95,
            True, False, 1000.0, 1.0, 1.0, 1.0)


def _bad_client_input(kind: str, tmp: Path) -> tuple:
    """Generate arguments with one bad input (a few representative cases of tests/test_bad_inputs.py)."""
    camera = json.loads((EXAMPLE / "camera.json").read_text())
    rgb, depth, instruction, hand = EXAMPLE / "color.png", EXAMPLE / "depth.png", "pick up the yellow mug", "allegro"
    if kind == "truncated depth png":
        data = depth.read_bytes()
        depth = tmp / "depth.png"
        depth.write_bytes(data[: len(data) // 2])
    elif kind == "rgb not an image":
        rgb = tmp / "color.png"
        rgb.write_text("not an image\n" * 50)
    elif kind == "fx <= 0":
        camera["fx"] = 0
    elif kind == "absent object":
        instruction = "pick up the green banana"
    elif kind == "unknown hand":
        hand = "robotiq"
    return _client_args(rgb, depth, json.dumps(camera), instruction, hand)


@pytest.mark.parametrize("kind,keywords", [
    ("truncated depth png", ("depth", "truncated")),
    ("rgb not an image", ("colour", "not an image")),
    ("fx <= 0", ("fx=0", "finite positive")),
    ("absent object", ("could not find", "green banana", "I found: #0")),
    ("unknown hand", ("unknown hand 'robotiq'", "choose one of", "allegro")),  # typed names reach check_inputs
])
def test_gradio_client_bad_inputs_get_the_message(app_url, tmp_path, kind, keywords):
    from gradio_client import Client

    url, out = app_url
    runs_before = sorted(out.glob("*/run_*"))
    client = Client(url, verbose=False)
    with pytest.raises(Exception) as err:
        client.predict(*_bad_client_input(kind, tmp_path), api_name="/generate")
    msg = str(err.value)
    assert all(k in msg for k in keywords), msg
    assert "Traceback" not in msg and str(tmp_path) not in msg and "/tmp/" not in msg, msg
    # a failed request writes no run folder (an earlier client's session may be cleaned up meanwhile)
    assert not set(out.glob("*/run_*")) - set(runs_before)


def test_upload_over_the_size_limit_is_rejected(app_url):
    import httpx

    from app.limits import MAX_FILE_SIZE

    url, _ = app_url
    small = httpx.post(url + "gradio_api/upload", files={"files": ("depth.npy", b"\0" * 1024)}, timeout=60)
    assert small.status_code == 200, small.text
    big = httpx.post(url + "gradio_api/upload", files={"files": ("depth.npy", b"\0" * (MAX_FILE_SIZE + 1))},
                     timeout=120)
    assert big.status_code == 413, (big.status_code, big.text[:300])
    assert "maximum allowed size" in big.text


ARTIFACTS = Path(os.environ.get("UNIHM_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "browser_walk"

_SCENE_X = """() => {
  const gd = document.querySelector('#scene3d .js-plotly-plot');
  const i = gd._fullData.findIndex(d => d.name === 'refined hand');
  return Array.from(gd._fullData[i].x).slice(0, 40);
}"""


def _run_status_done(page, previous: str = "", timeout_ms: int = 300_000) -> str:
    """Wait until the line under Generate reports a finished run (another one than ``previous``)."""
    page.wait_for_function(
        """(prev) => { const t = document.querySelector('#run-status').innerText;
                        return t.trim().startsWith('✅ Done in') && !/step \\d+\\/\\d+/.test(t) && t !== prev; }""",
        arg=previous, timeout=timeout_ms)
    return page.locator("#run-status").inner_text()


def test_browser_walk(app_url, tmp_path):
    """A user's walk through the page in Debian's chromium: example, Generate (progress under the
    button), every result tab, the 3-D view playing and scrubbed, physics check, re-refine,
    download, Cross-hand. Screenshots of each step are kept under build/test-artifacts/browser_walk
    (UNIHM_TEST_ARTIFACTS moves them); UNIHM_UPDATE_SCREENSHOT=1 refreshes docs/screenshot_generate.png."""
    if not Path(CHROMIUM).exists():
        if in_ci():
            pytest.fail("chromium is missing; `make test` installs it (make test-deps)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    url, _ = app_url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()  # this run's screenshots only
    shots = []

    def shot(page, name: str, full: bool = False) -> None:
        path = ARTIFACTS / f"{len(shots):02d}_{name}.png"
        page.screenshot(path=str(path), full_page=full)
        shots.append(path)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        try:
            page.goto(url)
            status = page.locator("#warmup-status")
            status.wait_for(timeout=60_000)
            assert "Warming up" in status.inner_text() or "Ready" in status.inner_text()
            shot(page, "start")
            page.get_by_role("button", name="mug into bowl").first.click()
            page.wait_for_timeout(5000)  # let the example's files upload into the inputs
            page.get_by_label("Hand").first.click()
            page.get_by_role("option", name="shadow").click()
            page.get_by_role("button", name="Generate", exact=True).click()
            # progress next to the button: the stage, elapsed and remaining time
            page.wait_for_function("() => /step \\d+\\/\\d+: .* elapsed .* left/.test("
                                   "document.querySelector('#run-status').innerText)", timeout=240_000)
            shot(page, "progress")
            done = _run_status_done(page)
            assert "rendering video" in done and "perception" in done, done

            page.get_by_role("tab", name="Perception", exact=True).click()
            assert "Task:" in page.get_by_text("Task:").first.inner_text()
            page.locator("#point-cloud .js-plotly-plot").wait_for(timeout=60_000)  # the 3-D cloud with the table
            shot(page, "perception")
            page.get_by_role("tab", name="Plan", exact=True).click()
            page.locator(".js-plotly-plot:visible").first.wait_for(timeout=60_000)
            page.locator("#plan-path-image img").wait_for(timeout=60_000)  # the path drawn on the colour image
            shot(page, "plan")

            page.get_by_role("tab", name="Tokens", exact=True).click()
            table = page.locator("#tokens-table")
            table.get_by_text("0–3", exact=True).first.wait_for(timeout=60_000)  # slot 0 decodes to frames 0-3
            assert "hand tokens" in page.get_by_text("The VLM wrote").first.inner_text()
            shot(page, "tokens")

            page.get_by_role("tab", name="Hand", exact=True).click()
            page.wait_for_selector("video", timeout=60_000)
            plot = page.locator("#scene3d .js-plotly-plot[data-unihm-frames]")
            plot.wait_for(timeout=120_000)
            assert int(plot.get_attribute("data-unihm-frames")) >= 32
            before = page.evaluate(_SCENE_X)
            page.locator("#scene3d .updatemenu-item-text", has_text="Play").click()
            page.wait_for_timeout(3000)
            played = page.evaluate(_SCENE_X)
            assert played != before, "Play did not move the 3-D view"
            rail = page.locator("#scene3d .slider-rail-rect").bounding_box()
            page.mouse.click(rail["x"] + 0.2 * rail["width"], rail["y"] + rail["height"] / 2)
            page.wait_for_timeout(1500)
            scrubbed = page.evaluate(_SCENE_X)
            assert scrubbed != played, "the slider did not move the 3-D view"
            page.locator("#scene3d").scroll_into_view_if_needed()
            shot(page, "hand_3d")
            # the README's screenshot is refreshed only on request, so a test run leaves the tracked file alone
            if os.environ.get("UNIHM_UPDATE_SCREENSHOT") == "1":
                page.screenshot(path=str(ROOT / "docs" / "screenshot_generate.png"), full_page=True)

            page.get_by_role("tab", name="Energy", exact=True).click()
            page.locator(".js-plotly-plot:visible").first.wait_for(timeout=60_000)
            shot(page, "energy")

            page.get_by_role("tab", name="Metrics", exact=True).click()
            page.get_by_text("Physical plausibility of the motion").first.wait_for(timeout=30_000)
            page.get_by_role("button", name="Physics check of raw and refined").click()
            done = _run_status_done(page, done)
            assert "physics" in done, done
            shot(page, "metrics_physics")

            page.get_by_role("button", name="Re-refine with these weights").click()
            done = _run_status_done(page, done)
            assert "refinement and physics check" in done, done

            page.get_by_role("tab", name="Export", exact=True).click()
            link = page.locator('a[data-testid="download-link"][download="trajectory.json"]').first
            with page.expect_download(timeout=60_000) as dl:
                link.click()
            saved = tmp_path / "trajectory.json"
            dl.value.save_as(saved)
            doc = json.loads(saved.read_text())
            assert doc["hand"] == "shadow" and doc["q_refined"]
            shot(page, "export")

            page.get_by_role("tab", name="Cross-hand", exact=True).click()
            instruction = json.loads((EXAMPLE / "example.json").read_text())["instruction"]
            # the tab reuses the Generate tab's inputs: no second upload
            page.locator("#crosshand-inputs").get_by_text(instruction, exact=False).wait_for(timeout=30_000)
            page.get_by_role("button", name="Generate for all hands").click()
            page.wait_for_function("() => document.querySelectorAll('#crosshand-gallery img').length >= 8",
                                   timeout=500_000)
            table_text = page.locator("#crosshand-table").inner_text()
            assert all(h in table_text for h in HAND_NAMES) and "achieves the task in simulation" in table_text
            shot(page, "crosshand", full=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            print("screenshot:", ARTIFACTS / "failure.png", page.locator(".toast-body").all_inner_texts())
            raise
        finally:
            browser.close()
    assert all(s.stat().st_size > 10_000 for s in shots), shots
