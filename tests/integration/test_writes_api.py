"""Writes through the API and the CLI: a gateway (uvicorn in a thread), a poller (in a thread) polling at
100 ms and virtual-plc. Every data type written and read back, scale and offset, 422s and 403s with
nothing sent (the PLC's memory is the independent witness), every attempt in the audit trail (the test
keeps its own count), a PLC away answered 502/504."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from virtual_plc import Server

from common.config_store.csv_import import import_csv
from common.config_store.schema import open_store
from common.settings import Settings
from services.cli.main import main as scada
from services.gateway.app import create_app
from tests.gateway_run import GatewayThread
from tests.helpers import short_tmp, wait_for
from tests.integration.poller_harness import PLC, Ingest, Poller, make_store

pytestmark = pytest.mark.timeout(90)

TOKEN = "write-test-token"
TAGS = """\
I16,D100,INT16,,,-1000,1000,-999
U16,D101,UINT16,,,,,65535
I32,D102,INT32,,,,,-123456789
U32,D104,UINT32,,,,,4000000000
F32,D106,FLOAT32,,,,,3.5
F64,D108,FLOAT64,,,,,-2.25e10
STR,D112,STRING[4],,,,,KRCW1
TEMP,D200,INT16,0.1,-40,-40,150,12.3
FLOW,D201,UINT32,0.01,273.15,,,300
BIT3,D120.3,BIT,,,,,1
BIT4,D120.4,BIT,,,,,0
MOTOR,M7,BIT,,,,,1
"""
#: tag -> (address, type, value written through the API)
WRITABLE = {row.split(",")[0]: (row.split(",")[1], row.split(",")[2], row.split(",")[7]) for row in TAGS.splitlines()}


def api_value(text: str, data_type: str) -> Any:
    return text if data_type.startswith("STRING") else json.loads(text)


@dataclass
class Plant:
    settings: Settings
    server: Server
    url: str
    attempts: int = 0  # the test's own count of write attempts, one per tag

    def post(self, body: dict[str, Any], token: str | None = TOKEN, counted: bool = False) -> httpx.Response:
        """POST a write; ``counted``: the caller has counted its attempts already (a thread must not count)."""
        if not counted:
            self.attempts += len(body.get("writes", [None]))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.post(f"{self.url}/api/tags/write", json=body, headers=headers, timeout=20)

    def words(self, number: int, count: int = 1) -> list[int]:
        return list(self.server.memory.read_words("D", number, count))


def tag_rows() -> str:
    rows = [f"{PLC},G,{n},{a},{t},{s},{o},,,1,{lo},{hi}" for n, a, t, s, o, lo, hi, _ in
            (r.split(",") for r in TAGS.splitlines())]
    rows += [f"{PLC},G,LIST_{k:03d},D{3000 + k},INT16,,,,,1,," for k in range(100)]
    rows.append(f"{PLC},G,READ_ONLY,D300,INT16,,,,,0,,")
    return "plc_code,group_name,tag_name,address,data_type,scale,offset,unit,description,writable,min,max\n" + \
        "\n".join(rows) + "\n"


def plant_store(base: Path, port: int, timeout_ms: int = 500) -> Settings:
    settings = make_store(base, port, f"G,{PLC},FIXED,100,,,1\n", f"{PLC},G,FIRST,D0,INT16,,,,\n",
                          timeout_ms=timeout_ms)
    (base / "tags.csv").write_text(tag_rows())
    conn = open_store(settings.config_db)
    import_csv(conn, [base / "tags.csv"])
    conn.close()
    return Settings(**{**settings.model_dump(), "scada_api_token": TOKEN, "scada_api_token_name": "line-2-hmi"})


def poller_connected(url: str) -> bool:
    status = httpx.get(f"{url}/api/polling/status", timeout=5).json()
    return any(p["alive"] and p["connected"] for p in status["pollers"])


@pytest.fixture(scope="module")
def plant() -> Iterator[Plant]:
    base = short_tmp()
    with Server() as server:
        settings = plant_store(base, server.address[1])
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            with GatewayThread(settings) as gateway:
                wait_for(lambda: poller_connected(gateway.url), 15, what="the poller connected to its PLC")
                yield Plant(settings, server, gateway.url)
        finally:
            poller.end()
            ingest.close()


def test_every_type_written_one_by_one_and_read_back(plant: Plant) -> None:
    plant.server.memory.write_words("D", 120, [0b0000_0000_0001_0001])
    for tag, (_, data_type, text) in WRITABLE.items():
        value = api_value(text, data_type)
        answer = plant.post({"plc": PLC, "tag": tag, "value": value})
        assert answer.status_code == 200, answer.text
        (result,) = answer.json()["results"]
        assert result["result"] == "written" and result["read_back"] == pytest.approx(value), result
        assert result["detail"] == "", result  # read back as written (12.3 comes back as 12.299999999999997)
    assert plant.words(200) == [523] and plant.words(201, 2) == [2685, 0]  # (12.3 + 40) / 0.1, (300 - 273.15) / 0.01
    assert plant.words(120) == [0b0000_0000_0000_1001]  # bit 0 as it was, 3 set, 4 cleared
    assert plant.server.memory.read_bits("M", 7, 1) == [True]


def test_every_type_through_the_cli_and_the_audit_shows_them(plant: Plant, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SCADA_API_TOKEN", TOKEN)
    monkeypatch.setenv("SCADA_DATA_DIR", str(plant.settings.scada_data_dir))
    wanted = {"I16": "-5", "U16": "7", "I32": "70000", "U32": "1", "F32": "-0.5", "F64": "1e-3", "STR": "한글",
              "TEMP": "-40", "FLOW": "273.15", "BIT3": "false", "BIT4": "on", "MOTOR": "0"}
    for tag, text in wanted.items():
        plant.attempts += 1
        assert scada(["write", "--url", plant.url, PLC, tag, text]) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert f"{PLC} {tag} ({WRITABLE[tag][0]}):" in out and ": written" in out, out
    assert plant.words(200) == [0] and plant.words(201, 2) == [0, 0] and plant.words(120) == [0b1_0001]
    assert scada(["audit", "--plc", PLC, "--tag", "STR", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert '"KRCW1" -> "한글" read back "한글": written' in out and "line-2-hmi" in out


def test_a_list_is_written_in_order_in_one_request_and_answered_with_what_was_read_back(plant: Plant) -> None:
    body = {"plc": PLC, "writes": [{"tag": f"LIST_{k:03d}", "value": k - 50} for k in range(100)]}
    answer = plant.post(body)
    assert answer.status_code == 200, answer.text
    assert [r["read_back"] for r in answer.json()["results"]] == list(range(-50, 50))
    assert plant.words(3000, 100) == [(k - 50) & 0xFFFF for k in range(100)]


@pytest.mark.parametrize(("tag", "value", "reason"), [
    ("I16", 1001, "above its max 1000"), ("I16", -1001, "below its min -1000"), ("I16", 1.5, "whole number"),
    ("U16", -1, "does not fit UINT16"), ("U16", "x", "not a number"), ("TEMP", 12.35, "steps of its scale"),
    ("TEMP", 150.1, "above its max 150"), ("STR", "TOO LONG!", "do not fit"), ("BIT3", 2, "not a bit"),
    ("F32", None, "not a number"),
])
def test_limits_and_types_are_422_naming_the_tag_and_nothing_is_sent(plant: Plant, tag: str, value: Any,
                                                                       reason: str) -> None:
    before = plant.words(100, 202)
    # the good tag first: a list with one refused value sends nothing at all
    answer = plant.post({"plc": PLC, "writes": [{"tag": "LIST_000", "value": 4444}, {"tag": tag, "value": value}]})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["refused"][0]["tag"] == tag and reason in detail["refused"][0]["reason"], detail
    assert detail["message"].startswith(f"nothing was written: {tag}: ")
    assert plant.words(100, 202) == before and plant.words(3000) != [4444]


def test_a_tag_not_writable_an_unknown_tag_and_a_wrong_token_are_refused(plant: Plant) -> None:
    plant.server.memory.write_words("D", 300, [4321])
    answer = plant.post({"plc": PLC, "tag": "READ_ONLY", "value": 1})
    assert answer.status_code == 403 and "not writable" in answer.json()["detail"]["message"]
    assert plant.post({"plc": PLC, "tag": "NO_SUCH", "value": 1}).status_code == 404
    assert plant.post({"plc": "KRNOSUCHPLC999", "tag": "I16", "value": 1}).status_code == 404
    assert plant.post({"plc": PLC, "tag": "I16", "value": 1}, token="wrong").status_code == 403
    missing = plant.post({"plc": PLC, "tag": "I16", "value": 1}, token=None)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert plant.words(300) == [4321] and plant.words(100) != [1]


def test_a_silent_plc_is_504_and_audited() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base = short_tmp()
        settings = plant_store(base, silent.getsockname()[1], timeout_ms=300)
        ingest = Ingest(settings)
        poller = Poller(settings, PLC).start()
        try:
            with GatewayThread(settings) as gateway:
                def answered() -> httpx.Response | None:
                    r = httpx.post(f"{gateway.url}/api/tags/write", json={"plc": PLC, "tag": "I16", "value": 1},
                                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=20)
                    return None if r.status_code == 503 else r  # until the poller is connected to the gateway
                answer = wait_for(answered, 15, what="an answer from the poller")
                assert answer.status_code == 504, answer.text
                entries = httpx.get(f"{gateway.url}/api/audit", timeout=5).json()["entries"]
                assert entries[0]["result"] == "not_sent" and "no complete reply" in entries[0]["detail"]
                assert {e["result"] for e in entries[1:]} <= {"not_sent"}  # earlier tries: no poller yet
        finally:
            poller.end()
            ingest.close()


def test_no_token_configured_refuses_every_write_and_audits_it() -> None:
    base = short_tmp()
    settings = Settings(**{**plant_store(base, 1).model_dump(), "scada_api_token": None})
    with TestClient(create_app(settings)) as client:
        answer = client.post("/api/tags/write", json={"plc": PLC, "tag": "I16", "value": 1},
                             headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 403 and "SCADA_API_TOKEN" in answer.json()["detail"]
        (entry,) = client.get("/api/audit").json()["entries"]
        assert (entry["tag_name"], entry["requested"], entry["result"], entry["token"]) == (
            "I16", 1, "refused_no_token", "-")
        bad = client.post("/api/tags/write", json={"plc": PLC, "tag": "I16"})
        assert bad.status_code == 422 and "value is missing" in bad.text
        nan = client.post("/api/tags/write", content=b'{"plc": "%s", "tag": "F32", "value": NaN}' % PLC.encode(),
                          headers={"Content-Type": "application/json"})
        assert nan.status_code == 403  # refused (no token) and audited: the audit still answers strict JSON
        assert client.get("/api/audit").json()["entries"][0]["requested"] == "nan"
        assert client.get("/api/audit", params={"before": 10**30}).status_code == 422


def test_bits_of_one_word_written_at_once_by_two_clients_both_land(plant: Plant) -> None:
    plant.server.memory.write_words("D", 120, [0x8001])
    for _ in range(5):  # each round: two read-modify-writes of D120 at the same moment, one per client
        plant.attempts += 2
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda b: plant.post({"plc": PLC, "writes": [{"tag": b, "value": 1}]},
                                                         counted=True), ("BIT3", "BIT4")))
        assert [a.status_code for a in answers] == [200, 200]
        assert plant.words(120) == [0x8001 | 1 << 3 | 1 << 4]  # neither write undid the other
        plant.server.memory.write_words("D", 120, [0x8001])


@pytest.mark.skipif(not (shutil.which("chromium") and shutil.which("chromedriver")),
                    reason="Debian's chromium and chromium-driver are not installed")
def test_the_dashboards_write_dialog_asks_confirms_and_shows_the_value_read_back(plant: Plant) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", f"--user-data-dir={short_tmp('chrome-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(shutil.which("chromedriver"))))
    try:
        driver.get(plant.url + "/")
        driver.find_element(By.ID, "token").send_keys(TOKEN)
        driver.execute_script("document.getElementById('token').dispatchEvent(new Event('change'))")
        row = wait_for(lambda: [r for r in driver.find_elements(By.CSS_SELECTOR, "#writable tbody tr")
                                if "\nI16\n" in f"\n{r.text.replace(' ', chr(10))}\n"], 10, what="the I16 row")[0]
        row.find_element(By.CSS_SELECTOR, "button.write").click()
        driver.find_element(By.ID, "write-value").send_keys("-321")
        driver.find_element(By.ID, "write-go").click()
        assert "Write -321 to I16 (D100)" in driver.find_element(By.ID, "write-confirm").text
        assert plant.words(100) != [(-321) & 0xFFFF]  # asked, not yet confirmed: nothing sent
        plant.attempts += 1
        driver.find_element(By.ID, "write-go").click()
        result = wait_for(lambda: driver.find_element(By.ID, "write-result").text, 10, what="the write's answer")
        assert result.startswith("written: read back -321"), result
        assert plant.words(100) == [(-321) & 0xFFFF]
        wait_for(lambda: "-321" in driver.find_element(By.ID, "audit").text, 10, what="the write in the audit table")
    finally:
        driver.quit()


def test_every_attempt_is_in_the_audit_trail(plant: Plant) -> None:
    entries = httpx.get(f"{plant.url}/api/audit", params={"limit": 1000}, timeout=5).json()["entries"]
    assert len(entries) == plant.attempts  # the test's own count, one per tag of every attempt
    results = {e["result"] for e in entries}
    assert results == {"written", "not_sent", "refused_bad_value", "refused_not_writable", "refused_unknown_tag",
                       "refused_unknown_plc", "refused_token"}, results
    refused = [e for e in entries if e["result"] == "refused_token"]
    assert {e["token"] for e in refused} == {"-"} and all(e["client"] == "127.0.0.1" for e in entries)
    temp = next(e for e in entries if e["tag_name"] == "TEMP" and e["result"] == "written" and e["requested"] == 12.3)
    assert temp["old_value"] is not None and temp["read_back"] == pytest.approx(12.3) and temp["token"] == "line-2-hmi"
    assert TOKEN not in json.dumps(entries)


def test_the_plc_away_is_502_and_audited(plant: Plant) -> None:
    plant.server.stop()
    wait_for(lambda: not poller_connected(plant.url) or None, 10, what="the poller noticed")
    answer = plant.post({"plc": PLC, "tag": "U16", "value": 9})
    assert answer.status_code == 502, answer.text
    (entry,) = httpx.get(f"{plant.url}/api/audit", params={"limit": 1}, timeout=5).json()["entries"]
    assert entry["tag_name"] == "U16" and entry["result"] == "not_sent" and "nothing written" in entry["detail"]
