"""The timbre explorer's page in a real browser (headless Chromium driven by selenium).

The server runs in this process on a free loopback port, over the bundled model on the
CPU with a small map (24 x 24). One module-wide browser walks the page as a user would:
the map is drawn and clickable, a piece's tracks and piano roll appear, a render plays
as a real WAV with its mel spectrogram drawn, and an API error shows in the page's error
box without breaking it. Screenshots go to $NEURALSYNTH_SCREENSHOTS when it is set.

Skipped (with the reason) only where Chromium or chromedriver is not installed.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("uvicorn", reason="the serve extra (uvicorn) is not installed")
pytest.importorskip("multipart", reason="the serve extra (python-multipart) is not installed")
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e .[dev])")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
                       reason=f"needs Chromium at {CHROMIUM} and chromedriver at "
                              f"{CHROMEDRIVER}"),
]

#: Distinct colours a drawn canvas has at least (a blank one has one or two).
MANY_COLOURS = 40

# Counted inside a middle box of the canvas (fractions of its size), clear of the axis
# labels and captions: their anti-aliased text alone has dozens of colours.
_COLOURS_JS = """
const c = document.getElementById(arguments[0]);
const [fx0, fy0, fx1, fy1] = arguments[1];
const x0 = Math.floor(fx0 * c.width), y0 = Math.floor(fy0 * c.height);
const w = Math.max(1, Math.floor((fx1 - fx0) * c.width));
const h = Math.max(1, Math.floor((fy1 - fy0) * c.height));
const d = c.getContext('2d').getImageData(x0, y0, w, h).data;
const seen = new Set();
for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
return seen.size;
"""
#: The middle box: 20-80 % across, 25-75 % down.
MIDDLE = (0.2, 0.25, 0.8, 0.75)

# The player's blob, fetched back: its first bytes, and the duration Chromium decodes.
_WAV_JS = """
const done = arguments[arguments.length - 1];
const audio = document.getElementById('player');
(async () => {
  const bytes = new Uint8Array(await (await fetch(audio.src)).arrayBuffer());
  const text = (a, b) => String.fromCharCode(...bytes.slice(a, b));
  if (audio.readyState < 1) {
    await new Promise((resolve, reject) => {
      audio.addEventListener('loadedmetadata', resolve, {once: true});
      audio.addEventListener('error', () => reject(new Error('media error ' +
        (audio.error && audio.error.code))), {once: true});
    });
  }
  done({riff: text(0, 4), wave: text(8, 12), size: bytes.length, duration: audio.duration});
})().catch((err) => done({error: String(err)}));
"""


# ---------------------------------------------------------------------------------------
# Fixtures: the server in a thread, one headless Chromium
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    import uvicorn

    import neuralsynth as ns
    from neuralsynth.serve.app import create_app
    from neuralsynth.serve.state import Explorer

    explorer = Explorer(ns.load_model(device="cpu"),
                        cache_dir=tmp_path_factory.mktemp("serve-cache"), map_grid=24)
    app = create_app(explorer)                  # the map starts computing on a thread
    # A socket bound here and handed to uvicorn: the port is ours, no race for it.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="explorer-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "api/model", timeout=5) as res:
                if res.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the explorer's server did not answer within 60 s")
        time.sleep(0.2)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        explorer.close()
        sock.close()


@pytest.fixture(scope="module")
def driver():
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--mute-audio", "--disable-gpu"):
        options.add_argument(arg)
    # The driver's path is given: Selenium Manager never looks for (or downloads) one.
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_script_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("NEURALSYNTH_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------
def wait(driver, condition, timeout=30, what="the page"):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: condition(d), message=f"timed out waiting for {what}")


def colours(driver, canvas_id: str, box=MIDDLE) -> int:
    return driver.execute_script(_COLOURS_JS, canvas_id, list(box))


def drawn(canvas_id: str):
    return lambda d: d.find_element(By.ID, canvas_id).get_attribute("data-drawn") == "true"


def error_text(driver) -> str:
    box = driver.find_element(By.ID, "error")
    return box.text.replace("×", "").strip() if box.is_displayed() else ""


def no_error(driver) -> None:
    assert error_text(driver) == "", f"the page shows an error: {error_text(driver)}"


def open_page(driver, url) -> None:
    driver.get(url)
    wait(driver, drawn("map"), timeout=90, what="the map to be drawn")
    assert "computing" not in driver.find_element(By.ID, "map-status").text


def click_map(driver, dx: int, dy: int) -> None:
    """Click the map ``dx, dy`` CSS pixels from its centre."""
    canvas = driver.find_element(By.ID, "map")
    ActionChains(driver).move_to_element_with_offset(canvas, dx, dy).click().perform()


def choose_example(driver, name: str, n_tracks: int) -> None:
    Select(driver.find_element(By.ID, "example")).select_by_value(name)
    wait(driver, lambda d: name in d.find_element(By.ID, "piece-info").text
         and len(d.find_elements(By.CSS_SELECTOR, "#tracks tbody tr")) == n_tracks
         and drawn("roll")(d), what=f"the tracks of {name}")


def render_and_check(driver) -> dict:
    """Click Render; wait for the audio; check it is a playable WAV and the mel is drawn."""
    player = driver.find_element(By.ID, "player")
    before = player.get_attribute("src") or ""
    button = driver.find_element(By.ID, "render")
    assert button.is_enabled()
    button.click()
    wait(driver, lambda d: not d.find_element(By.ID, "render").is_enabled()
         or (player.get_attribute("src") or "") != before, timeout=10,
         what="the render to start")
    wait(driver, lambda d: ((player.get_attribute("src") or "").startswith("blob:")
                            and player.get_attribute("src") != before)
         or error_text(d), timeout=120, what="the render's audio")
    no_error(driver)
    wav = driver.execute_async_script(_WAV_JS)
    assert "error" not in wav, wav
    assert (wav["riff"], wav["wave"]) == ("RIFF", "WAVE"), wav
    assert wav["size"] > 44 + 16000, wav          # more than a header: a second of audio
    assert wav["duration"] > 1, wav
    wait(driver, drawn("mel"), timeout=30, what="the mel spectrogram")
    assert colours(driver, "mel") > MANY_COLOURS
    assert "done" in driver.find_element(By.ID, "render-status").text
    link = driver.find_element(By.ID, "download")
    assert link.is_displayed()
    assert re.search(r"/api/renders/[0-9a-f]{64}\.wav$", link.get_attribute("href"))
    assert driver.find_element(By.ID, "render").is_enabled()
    return wav


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------
def test_map_tracks_render(server_url, driver, shots):
    open_page(driver, server_url)
    assert driver.find_element(By.ID, "model-name").text.strip() not in ("", "…")
    assert colours(driver, "map") > MANY_COLOURS
    legend = driver.find_element(By.ID, "legend-hi").text
    assert "Hz" in legend, legend

    # A click on the map chooses a point: xy: coordinates, nearest instruments, mix.
    click_map(driver, -130, 110)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nearest li")) == 3,
         what="the nearest instruments")
    spec = driver.find_element(By.ID, "timbre").get_attribute("value")
    assert re.fullmatch(r"xy:-?[\d.]+,-?[\d.]+", spec), spec
    nearest = driver.find_element(By.ID, "nearest").text
    assert "distance" in nearest and re.search(r"[a-z_]+", nearest)
    assert driver.find_elements(By.CSS_SELECTOR, "#mix li")
    no_error(driver)
    driver.save_screenshot(str(shots / "explorer-1-map.png"))

    # Colouring by energy redraws the map and the legend in dB.
    driver.find_element(By.CSS_SELECTOR, "input[name=colour][value=energy]").click()
    wait(driver, lambda d: "dB" in d.find_element(By.ID, "legend-hi").text,
         what="the dB legend")
    assert colours(driver, "map") > MANY_COLOURS

    # A typed morph is answered with its keyframes.
    box = driver.find_element(By.ID, "timbre")
    box.clear()
    box.send_keys("piano@0s,organ@8s", Keys.TAB)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keyframes li")) == 2,
         what="the morph's keyframes")
    assert "8 s" in driver.find_element(By.ID, "keyframes").text
    no_error(driver)

    # A piece: track list and piano roll.
    choose_example(driver, "etude_1.mid", n_tracks=1)
    assert colours(driver, "roll") > 3

    # Morph mode: two clicks make a path with times spread over the piece.
    driver.find_element(By.ID, "morph-mode").click()
    click_map(driver, -150, 100)
    click_map(driver, 140, -90)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#keyframes li")) == 2
         and d.find_element(By.ID, "timbre").get_attribute("value").count("@") == 2,
         what="a two-keyframe morph")
    spec = driver.find_element(By.ID, "timbre").get_attribute("value")
    match = re.fullmatch(r"xy:-?[\d.]+;-?[\d.]+@0s,xy:-?[\d.]+;-?[\d.]+@([\d.]+)s", spec)
    assert match, spec
    assert float(match.group(1)) > 5          # the etude's length, not the 10 s default
    no_error(driver)

    render_and_check(driver)
    driver.save_screenshot(str(shots / "explorer-3-render.png"))

    # The quartet's tracks: five rows, the drums without a timbre input.
    choose_example(driver, "quartet.mid", n_tracks=5)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#tracks input.track-timbre")) == 4
    assert "Trumpet" in driver.find_element(By.ID, "tracks").text
    track = driver.find_element(By.CSS_SELECTOR, "#tracks input.track-timbre[data-index='1']")
    track.send_keys("organ", Keys.TAB)
    wait(driver, lambda d: track.get_attribute("title"), what="the track's timbre check")
    no_error(driver)
    driver.save_screenshot(str(shots / "explorer-2-tracks.png"))


def test_errors_show_in_the_page(server_url, driver, tmp_path):
    open_page(driver, server_url)

    # Random bytes as a MIDI file: a readable one-line message in the error box.
    noise = tmp_path / "noise.mid"
    noise.write_bytes(os.urandom(2000))
    driver.find_element(By.ID, "midi-file").send_keys(str(noise))
    wait(driver, error_text, what="the error box")
    message = error_text(driver)
    assert "MIDI" in message and "\n" not in message and len(message) < 300, message
    assert not driver.find_element(By.ID, "tracks").is_displayed()

    # An unknown instrument typed as the timbre: the same box says so.
    box = driver.find_element(By.ID, "timbre")
    box.clear()
    box.send_keys("no_such_instrument", Keys.TAB)
    wait(driver, lambda d: "unknown instrument" in error_text(d), what="the timbre error")
    assert "invalid" in box.get_attribute("class")

    # The page still works: a valid timbre, an example with a track of its own, a render.
    box.clear()
    box.send_keys("piano:0.3,organ:0.7", Keys.TAB)
    wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#nearest li")) == 3,
         what="the mix's nearest instruments")
    choose_example(driver, "quartet.mid", n_tracks=5)
    no_error(driver)
    track = driver.find_element(By.CSS_SELECTOR, "#tracks input.track-timbre[data-index='2']")
    track.send_keys("pizzicato_strings")
    render_and_check(driver)
    no_error(driver)

