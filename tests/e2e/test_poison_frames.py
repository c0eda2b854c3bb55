"""Poison frames on the buffer's ingest socket, beside the sample plant at work.

Each frame is refused whole (counted per reason, in /metrics) or stored with
its unstorable value made BAD and the good value beside it as read; no stage
dies; the real values are all stored: `scada account` says lost 0 and an
independent count (every PollingData the tap saw against TAG_DATA) agrees.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import subprocess
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import zmq

from common.times import iso_ms, now_ms
from common.wire.envelope import envelope, pack
from tests.helpers import ROOT, scada, wait_for
from tests.supervisor_run import running_plant

PLC = "KRCWO12ELOA101"


def poison(seq: int, values: list[list[Any]], ts: Any = None, plc: str = PLC) -> bytes:
    # a cycle number of its own per cycle (the historian's key is the cycle's identity); a read time too
    return pack(envelope("polling_data", plc=plc, group="POISON", seq=seq, cycle=seq,
                         ts=now_ms() // 1000 * 1000 + seq if ts is None else ts, dur=1.0, err=None, values=values))


def poison_frames() -> list[bytes]:
    """One of each kind of poison: refused whole (seq 1-3, 10, 11) or stored with its bad value BAD (4-9)."""
    good = ["D1", 7, "GOOD"]
    return [
        poison(1, [["D0", 1, "GOOD"]], ts=math.inf),          # undecodable (no integer time)
        poison(2, [["D0", 1, "GOOD"]], ts=-1),                # ts_out_of_window
        poison(3, [["D0", 1, "GOOD"]], ts=10**15),            # ts_out_of_window
        poison(4, [["D0", math.nan, "GOOD"], good]),          # BAD_NOT_FINITE
        poison(5, [["D0", math.inf, "GOOD"], good]),          # BAD_NOT_FINITE
        poison(6, [["D0", -math.inf, "GOOD"], good]),         # BAD_NOT_FINITE
        poison(7, [["D0", 2**63, "GOOD"], good]),             # BAD_INT_RANGE
        poison(8, [["D0", "x" * 10_000_000, "GOOD"], good]),  # BAD_STRING_TOO_LONG
        poison(9, [["D0", {b"k": b"v"}, "GOOD"], good]),      # BAD_TYPE
        poison(10, [["D0", 1, "GOOD"]], plc="KRZZZZ99ZZZZ99"),  # unknown_plc
        poison(11, [[f"D{i}", i, "GOOD"] for i in range(1_000_000)]),  # cycle_larger_than_ring
    ]


def send_poison(env: dict[str, str]) -> None:
    """Every poison frame, pushed to the buffer's ingest socket as a poller would."""
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(f"ipc://{env['SCADA_RUN_DIR']}/ingest.sock")
    for frame in poison_frames():
        push.send(frame)
    push.close(linger=10_000)
    ctx.term()


def _get(env: dict[str, str], path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{env['SCADA_API_PORT']}{path}", timeout=10) as response:
        return bytes(response.read())


def _metric(text: str, line_start: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def test_poison_frames_are_refused_or_stored_bad_and_the_real_values_all_arrive() -> None:
    with running_plant() as (sup, env):
        sup.wait_running(60)
        since = now_ms()
        tapped = Path(env["SCADA_LOG_DIR"]) / "tap.jsonl"
        with tapped.open("w") as out:
            tap = subprocess.Popen([sys.executable, "-m", "services.cli.main", "tap", "--topic", "data.",
                                    "--timeout", "6"], cwd=ROOT, env=env, stdout=out, text=True)
        try:
            wait_for(lambda: tapped.stat().st_size > 0, 30, what="the tap receiving")
            pids = {name: p["pid"] for p in sup.rpc.supervisor.getAllProcessInfo() for name in [p["name"]]}
            send_poison(env)

            expected = {'reason="undecodable"': 1, 'reason="ts_out_of_window"': 2, 'reason="unknown_plc"': 1,
                        'reason="cycle_larger_than_ring"': 1}

            def refused() -> str | None:
                text = _get(env, "/metrics").decode()
                return text if all(_metric(text, f"scada_buffer_ingest_refused_cycles_total{{{label}}}") == n
                                   for label, n in expected.items()) else None

            text = wait_for(refused, 60, interval=1, what="every refusal counted in /metrics")
            assert _metric(text, 'scada_buffer_ingest_bad_values_total{quality="BAD_NOT_FINITE"}') == 3
            for quality in ("BAD_INT_RANGE", "BAD_STRING_TOO_LONG", "BAD_TYPE"):
                assert _metric(text, f'scada_buffer_ingest_bad_values_total{{quality="{quality}"}}') == 1
            assert _metric(text, 'scada_buffer_ingest_refused_values_total{reason="cycle_larger_than_ring"}') == 1e6

            # the plant goes on beside them for a while
            wait_for(lambda: tapped.read_text().count("\n") > 80, 60, what="the real cycles going on")
            sup.ctl("stop", "pollers:*")
            wait_for(lambda: (lambda s: s["current_size"] == 0 and s["leased_values"] == 0)(
                json.loads(_get(env, "/api/buffer/status"))), 60, interval=0.5, what="the buffer drained")
            tap.wait(60)
        finally:
            if tap.poll() is None:
                tap.kill()
        after = {name: p["pid"] for p in sup.rpc.supervisor.getAllProcessInfo() for name in [p["name"]]}
        for stage in ("buffer", "writer", "gateway"):
            assert after[stage] == pids[stage], f"{stage} restarted"
        until = now_ms()

        db = sqlite3.connect(Path(env["SCADA_DATA_DIR"]) / "tag_data.db")
        with contextlib.closing(db):
            poisoned = db.execute("SELECT cycle, tag_address, tag_value, quality FROM TAG_DATA "
                                  "WHERE group_name = 'POISON' ORDER BY cycle, tag_address").fetchall()
            stored = Counter({(plc, group, cycle): n for plc, group, cycle, n in db.execute(
                "SELECT plc_code, group_name, cycle, COUNT(*) FROM TAG_DATA WHERE group_name != 'POISON' "
                "GROUP BY plc_code, group_name, cycle")})
        bad = {4: "BAD_NOT_FINITE", 5: "BAD_NOT_FINITE", 6: "BAD_NOT_FINITE", 7: "BAD_INT_RANGE",
               8: "BAD_STRING_TOO_LONG", 9: "BAD_TYPE"}
        assert poisoned == [row for seq, q in bad.items() for row in [(seq, "D0", None, q), (seq, "D1", 7, "GOOD")]]

        seen: Counter[tuple[str, str, int]] = Counter()
        for line in tapped.read_text().splitlines():
            m = json.loads(line)["message"]
            if m.get("group") != "POISON":
                seen[(m["plc"], m["group"], int(m["cycle"]))] = len(m["values"])
        assert len(seen) > 50
        missing = {key: n for key, n in seen.items() if stored.get(key) != n}
        assert not missing, f"tapped cycles not stored as tapped: {list(missing.items())[:5]}"

        account = json.loads(scada(env, "account", "--since", iso_ms(since), "--until", iso_ms(until),
                                   "--json", check=False).stdout)
        assert account["lost"] == 0 and account["polled"] >= sum(seen.values()), account
