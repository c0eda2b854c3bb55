"""The dashboard in a real browser (Debian's Chromium, headless) against a running plant.

It loads, shows the sample plant's groups with live figures, and a trigger
button produces a new cycle of a HANDSHAKE group. The screenshot is kept in
docs/dashboard.png (refreshed when SCADA_UPDATE_SCREENSHOT=1).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, short_tmp, wait_for
from tests.supervisor_run import Supervisor, running_plant

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not (CHROMIUM and DRIVER),
                       reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them: "
                              "apt-get install chromium chromium-driver)"),
]


@pytest.fixture(scope="module")
def plant() -> Iterator[tuple[Supervisor, dict[str, str]]]:
    with running_plant() as (sup, env):
        sup.wait_running()
        # supervisord calls the gateway RUNNING a second after its start; uvicorn may listen later
        wait_for(lambda: _listening(int(env["SCADA_API_PORT"])), 30, what="the gateway listening")
        yield sup, env


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1500,1300", f"--user-data-dir={short_tmp('chrome-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(DRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def test_dashboard_shows_the_plant_and_a_trigger_makes_a_cycle(plant: tuple[Supervisor, dict[str, str]],
                                                                browser: object) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    driver = browser
    _, env = plant
    driver.get(f"http://127.0.0.1:{env['SCADA_API_PORT']}/")  # type: ignore[attr-defined]

    def rows() -> list[object]:
        return driver.find_elements(By.CSS_SELECTOR, "#groups tbody tr")  # type: ignore[attr-defined]

    def cycles_of(key: str) -> int:
        for _ in range(20):
            try:
                row = driver.find_element(By.CSS_SELECTOR, f'#groups tr[data-group="{key}"]')  # type: ignore[attr-defined]
                return int(row.find_element(By.CSS_SELECTOR, "td.cycles").text)
            except StaleElementReferenceException:
                continue  # redrawn between the two finds
        raise AssertionError(f"the row of {key} kept being redrawn")

    wait_for(lambda: len(rows()) == 12, 20, what="12 groups on the dashboard")
    wait_for(lambda: cycles_of("KRCWO12ELOA101/FAST_1S") > 1, 20, what="live cycle counts")
    assert driver.find_element(By.ID, "link").text == "live"  # type: ignore[attr-defined]
    wait_for(lambda: "RUNNING" in driver.find_element(By.ID, "stages").text, 10,  # type: ignore[attr-defined]
             what="the stages table")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#values tbody tr"), 10,  # type: ignore[attr-defined]
             what="latest values")
    key = "KRCWO12ELOA102/BATCH_HS"
    before = cycles_of(key)

    def click_trigger() -> bool:
        try:  # the table is redrawn every second: an element found just before may be gone
            row = driver.find_element(By.CSS_SELECTOR, f'#groups tr[data-group="{key}"]')  # type: ignore[attr-defined]
            row.find_element(By.CSS_SELECTOR, "button.trigger").click()
        except StaleElementReferenceException:
            return False
        return True

    wait_for(click_trigger, 5, interval=0.05, what="a click on the trigger button")
    wait_for(lambda: "cycle" in driver.find_element(By.ID, "toast").text, 10,  # type: ignore[attr-defined]
             what="the trigger's answer")
    wait_for(lambda: cycles_of(key) == before + 1, 10, what="the new cycle in the table")
    wait_for(lambda: driver.find_element(By.ID, "util").text.endswith("%"), 10,  # type: ignore[attr-defined]
             what="buffer figures")
    shot = Path(env["SCADA_LOG_DIR"]) / "dashboard.png"
    driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 10_000
    docs = ROOT / "docs" / "dashboard.png"
    if os.environ.get("SCADA_UPDATE_SCREENSHOT") == "1" or not docs.exists():
        shutil.copy(shot, docs)
