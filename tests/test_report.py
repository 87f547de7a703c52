"""report.html: built from a real `foley demo` run, checked as data and in headless Chromium (Debian's)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from foleydesigner.cli import app
from foleydesigner.report import write_index, write_report, write_report_safe
from foleydesigner.report.browser import file_url, missing_reason, open_chromium
from foleydesigner.report.collect import active_spans
from tests.helpers import page_json


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "demo"
    res = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_demo_writes_a_small_report_with_every_event(demo):
    page = demo / "report.html"
    assert page.is_file() and page.stat().st_size < 5 * 2**20
    data = page_json(page)
    script = json.loads((demo / "script.json").read_text())
    assert [e["id"] for e in data["events"]] == [e["id"] for e in script["events"]]
    assert set(data["clues"]) == {e["id"] for e in script["events"]}
    assert data["video"]["file"] == "demo_vtest.foley.mp4" and (demo / data["video"]["file"]).is_file()
    png = demo / data["media"]["spectrogram"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for e in script["events"]:
        assert (demo / data["media"]["audio"][f"stem:{e['id']}"]["src"]).is_file()
    tot = json.loads((demo / "tot_tree.json").read_text())
    assert data["tot"]["winner"] == tot["winner"] and data["tot"]["path"][-1] == tot["winner"]


def test_active_spans_from_frames():
    t = [0.0, 0.1, 0.2, 0.3, 0.4]
    assert active_spans(t, [0, 1, 1, 0, 1], 0.1) == [[0.1, 0.3], [0.4, 0.5]]
    assert active_spans(t, [0, 0, 0, 0, 0], 0.1) == []


def decode_js_audio(path: Path) -> np.ndarray:
    blob = base64.b64decode(re.search(r'="([A-Za-z0-9+/=]+)";', path.read_text()).group(1))
    with av.open(io.BytesIO(blob)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)


def lufs(x: np.ndarray) -> float:
    from foleydesigner.tools.loudness import integrated_lufs

    return integrated_lufs(x)


def test_stem_previews_are_post_plan_and_sum_to_the_stereo_mix(demo):
    """Decode every stem preview (and the reverb returns) at its offset, sum: the stereo mix's loudness, over the
    whole clip and over a 4 s window; a foreground stem sits at its mix level (~+29 dB over the raw stem)."""
    data = page_json(demo / "report.html")
    mix, sr = sf.read(str(demo / "mix_stereo.wav"), dtype="float32", always_2d=True)
    mix = mix.T
    total = np.zeros_like(mix)
    stems = {}
    for key, entry in data["media"]["audio"].items():
        if not key.startswith("stem:"):
            continue
        x = decode_js_audio(demo / entry["src"])
        a = int(round(entry["offset_s"] * sr))
        n = min(x.shape[1], total.shape[1] - a)
        total[:, a:a + n] += x[:, :n]
        stems[key[5:]] = (a, x)
    assert "__returns__" in stems and data["media"]["stems_post_plan"] is True
    for lo, hi in ((0, mix.shape[1]), (2 * sr, 6 * sr)):
        assert abs(lufs(total[:, lo:hi]) - lufs(mix[:, lo:hi])) < 1.0
    plan = json.loads((demo / "mix_plan.json").read_text())
    fader = next(op["params"]["gain_db"] for op in plan["plan"]["footsteps_t0"] if op["expert"] == "dyn")
    assert data["media"]["faders_db"]["footsteps_t0"] == pytest.approx(fader) and fader > 20
    raw, _ = sf.read(str(demo / "stems" / "footsteps_t0.wav"), dtype="float32", always_2d=True)
    a, x = stems["footsteps_t0"]
    raised = lufs(x) - lufs(raw.T[:, a:a + x.shape[1]])
    master = plan["verification"]["master"]["gain_db"]
    assert abs(raised - (fader + master)) < 3.0  # the fader and the master gain, give or take the compressor


def test_index_over_a_folder_of_runs(demo):
    index = write_index(demo.parent, rebuild=False)
    rows = page_json(index)["runs"]
    assert [r["dir"] for r in rows] == ["demo"]
    plan = json.loads((demo / "mix_plan.json").read_text())["verification"]["delivery"]
    assert rows[0]["events"] == len(json.loads((demo / "script.json").read_text())["events"])
    assert rows[0]["lufs"] == plan["stereo"]["integrated_lufs"] and rows[0]["report"] == "./demo/report.html"


def test_report_cli_errors_are_one_line(tmp_path):
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "holds no run folders" in res.output
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "run.json").write_text("{}")
    (tmp_path / "index.html").write_text("<html>mine</html>")
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not written by `foley report`" in res.output
    assert (tmp_path / "index.html").read_text() == "<html>mine</html>"  # a user's file is never touched


def test_a_failing_report_only_warns(demo, tmp_path, caplog):
    broken = tmp_path / "broken"
    shutil.copytree(demo, broken, ignore=shutil.ignore_patterns("stems", "*.wav", "*.mp4", "report*"))
    (broken / "script.json").write_text("{ not json")
    assert write_report_safe(broken) is None
    assert "report.html not written" in caplog.text
    assert not (broken / "report.html").exists() and not list(broken.glob(".report_media-*"))


def test_confidence_and_shots_are_read_when_present(demo, tmp_path):
    run = tmp_path / "spotted"
    shutil.copytree(demo, run, ignore=shutil.ignore_patterns("report*"))
    script = json.loads((run / "script.json").read_text())
    script["events"][0]["confidence"] = 0.42
    script["events"][0]["evidence"] = {"track_iou": 0.9}
    script["shots"] = [{"index": 0, "start_s": 0.0, "end_s": 4.0, "camera_motion": {"kind": "static"}},
                       {"index": 1, "start_s": 4.0, "end_s": 10.0, "camera_motion": "pan"}]
    (run / "script.json").write_text(json.dumps(script))
    data = page_json(write_report(run))
    assert data["events"][0]["confidence"] == 0.42 and "track_iou" in data["events"][0]["evidence"]
    assert [(s["start_s"], s["camera"]) for s in data["shots"]] == [(0.0, "static"), (4.0, "pan")]


# ---- in a real browser --------------------------------------------------------------------------------------------

browser = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture(scope="module")
def page(demo):
    driver = open_chromium()
    driver.get(file_url(demo / "report.html"))
    for _ in range(200):
        if driver.execute_script("return document.body.dataset.ready") == "1":
            break
        time.sleep(0.05)
    yield driver
    driver.quit()


def wait_for(driver, script: str, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


pytestmark = pytest.mark.allow_hosts(["127.0.0.1", "::1"])  # selenium talks to chromedriver on localhost only


@browser
def test_page_loads_from_file_url_without_console_errors(page):
    assert page.current_url.startswith("file://")
    assert page.execute_script("return document.body.dataset.ready") == "1"
    wait_for(page, "return document.getElementById('video').readyState >= 2")
    severe = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []


@browser
def test_every_event_has_a_lane_with_its_onsets(page, demo):
    script = json.loads((demo / "script.json").read_text())
    lanes = page.execute_script("return [...document.querySelectorAll('.row.lane[data-event]')].map(r => r.dataset.event)")
    assert sorted(lanes) == sorted(e["id"] for e in script["events"])
    cues = page.execute_script("return [...document.querySelectorAll('.cue')].map(c => c.dataset.event)")
    assert sorted(cues) == sorted(lanes)


@browser
def test_clicking_a_cue_seeks_the_video(page, demo):
    door = next(e for e in json.loads((demo / "script.json").read_text())["events"] if e["id"] == "car_door_1")
    page.find_element("css selector", '.cue[data-event="car_door_1"]').click()
    t = wait_for(page, f"const t = document.getElementById('video').currentTime; return Math.abs(t - {door['start_s']}) < 0.02 && t")
    assert abs(t - door["start_s"]) < 0.02
    assert page.execute_script("return window.foleyReport.time()") == pytest.approx(door["start_s"], abs=0.02)


@browser
def test_the_clip_plays_with_the_stereo_mix(page):
    page.execute_script("window.foleyReport.seek(1.0); window.foleyReport.setMode('stereo')")
    wait_for(page, "return window.foleyReport.mixer().loaded.includes('mix:stereo')")
    page.execute_script("window.foleyReport.play()")
    wait_for(page, "return document.getElementById('video').currentTime > 1.4")
    state = page.execute_script("return window.foleyReport.mixer()")
    assert state["mode"] == "stereo" and state["context"] == "running" and state["sources"] == 1
    level = wait_for(page, "const m = window.foleyReport.meters().__master__; return m > -80 && m")
    assert level > -80
    page.execute_script("window.foleyReport.pause()")


@browser
def test_soloing_a_stem_changes_what_plays(page):
    page.execute_script("window.foleyReport.pause(); window.foleyReport.seek(2.0)")
    page.find_element("css selector", '.strip[data-strip="footsteps_t0"] button.solo').click()
    state = wait_for(page, "const s = window.foleyReport.mixer(); return s.mode === 'stems' && s.loaded.length > 3 && s")
    gains = {k: v["gain"] for k, v in state["stems"].items()}
    assert gains["footsteps_t0"] == pytest.approx(1.0) and all(g == 0 for k, g in gains.items() if k != "footsteps_t0")
    page.execute_script("window.foleyReport.play()")
    wait_for(page, "return document.getElementById('video').currentTime > 2.5")
    meters = wait_for(page, "const m = window.foleyReport.meters(); return m.footsteps_t0 > -90 && m")
    page.execute_script("window.foleyReport.pause()")
    assert meters["footsteps_t0"] > -90
    assert all(v is None or v < -150 for k, v in meters.items() if k not in ("footsteps_t0", "__master__"))
    page.find_element("css selector", '.strip[data-strip="footsteps_t0"] button.solo').click()
    assert all(v["gain"] == pytest.approx(1.0) for v in page.execute_script("return window.foleyReport.mixer()")["stems"].values())


@browser
def test_placement_tot_tree_and_agent_timeline_are_drawn(page, demo):
    clues = json.loads((demo / "clues.json").read_text())["events"]
    assert page.execute_script("return document.querySelectorAll('#plot-az polyline').length") == len(clues)
    assert page.execute_script("return document.querySelectorAll('#plot-depth polyline').length") == len(clues)
    tot = json.loads((demo / "tot_tree.json").read_text())
    nodes = page.execute_script("return [...document.querySelectorAll('g.tot-node')].map(g => [g.dataset.node, g.dataset.status])")
    assert sorted(nodes) == sorted([n["id"], n["status"]] for n in tot["nodes"])
    rows = page.execute_script("return document.querySelectorAll('#agents tbody tr').length")
    names = page.execute_script("return [...document.querySelectorAll('#agents tbody tr td:nth-child(2)')].map(t => t.textContent)")
    assert rows >= 10 and any(n.startswith("mixing.planner") for n in names) and any(n.startswith("tot.") for n in names)
    assert page.execute_script("return document.querySelectorAll('#mixplan tbody tr').length") >= len(clues)


@browser
def test_a_screenshot_is_written(page, tmp_path):
    shot = tmp_path / "report.png"
    assert page.save_screenshot(str(shot))
    from matplotlib.image import imread

    img = imread(str(shot))
    assert img.shape[1] >= 1200 and img[..., :3].std() > 0.05  # a drawn page, not a blank one


def test_stem_envelope_places_a_click_and_trims_the_silence(tmp_path):
    from foleydesigner.report.media import stem_envelope

    x = np.zeros((2, 48_000 * 3), dtype=np.float32)
    x[1, 72_000] = 0.5  # -6 dBFS at 1.5 s, right channel only
    x[0, 100_000:100_010] = 0.001  # -60 dBFS
    sf.write(str(tmp_path / "s.wav"), x.T, 48_000)
    env, first, last = stem_envelope(tmp_path / "s.wav", 30)  # 0.1 s bins
    assert (first, last) == (72_000, 100_009)
    assert env[15] == 90 and env[20] == 0 and env[100_000 // 4800] == 0
    assert sum(v > 0 for v in env) == 1
