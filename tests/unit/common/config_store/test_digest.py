"""A PLC's config digest: the same as the checksums of the whole JSON text, and changed by any field."""

from __future__ import annotations

import dataclasses
import json
import zlib

from common.config_store.digest import _plain, config_digest
from common.config_store.model import Plc, PollingGroup, Tag

PLC = Plc("KRTEST00PLC001", "P1", "127.0.0.1", 5000, "MC3E_BINARY", 2, (), 300, True, "a PLC — ü",
          deviations=frozenset({"b", "a"}))
GROUPS = [PollingGroup(PLC.plc_code, name, "CYCLIC", 1000, "", "", True) for name in ("SLOW", "FAST")]
TAGS = [Tag(PLC.plc_code, group, f"T{i}", f"D{i}", "INT16", 0.1 if i % 2 else None, None, "°C", f"tag {i}",
            deadband=1.5 if i % 3 == 0 else None)
        for group in ("SLOW", "FAST") for i in range(30, 0, -1)]


def whole_text_digest(plc: Plc, groups: list[PollingGroup], tags: list[Tag]) -> str:
    """The digest as it was first written: the whole text at once (what a poller of an earlier build sends)."""
    body = [_plain(plc), sorted((_plain(g) for g in groups), key=lambda g: g["group_name"]),
            sorted((_plain(t) for t in tags), key=lambda t: (t["group_name"], t["tag_name"]))]
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":")).encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def test_the_digest_is_that_of_the_whole_text() -> None:
    assert config_digest(PLC, GROUPS, TAGS) == whole_text_digest(PLC, GROUPS, TAGS)
    assert config_digest(PLC, [], []) == whole_text_digest(PLC, [], [])
    assert config_digest(PLC, GROUPS[:1], TAGS[:1]) == whole_text_digest(PLC, GROUPS[:1], TAGS[:1])


def test_the_order_rows_are_read_in_does_not_matter() -> None:
    assert config_digest(PLC, GROUPS[::-1], TAGS[::-1]) == config_digest(PLC, GROUPS, TAGS)


def test_any_field_changed_changes_the_digest() -> None:
    digest = config_digest(PLC, GROUPS, TAGS)
    assert config_digest(dataclasses.replace(PLC, timeout_ms=301), GROUPS, TAGS) != digest
    assert config_digest(PLC, [dataclasses.replace(GROUPS[0], interval_ms=999), GROUPS[1]], TAGS) != digest
    assert config_digest(PLC, GROUPS, [dataclasses.replace(TAGS[0], deadband=2.0), *TAGS[1:]]) != digest
    assert config_digest(PLC, GROUPS, TAGS[1:]) != digest
