"""A PLC's configuration as one short digest: what its poller loaded, compared with the store.

The poller publishes the digest of the configuration it runs in its status;
the gateway computes the same from the store, and a PLC whose two differ is
told to reload (services/gateway/config_watch.py). Canonical by
construction: sets sorted, tags by group and name, floats as repr, so two
processes reading the same rows agree whatever their hash seed.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterable
from typing import Any

from common.config_store.model import Plc, PollingGroup, Tag


def _plain(row: Any) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, (set, frozenset)) else v) for k, v in dataclasses.asdict(row).items()}


def config_digest(plc: Plc, groups: Iterable[PollingGroup], tags: Iterable[Tag]) -> str:
    body = [_plain(plc), sorted((_plain(g) for g in groups), key=lambda g: g["group_name"]),
            sorted((_plain(t) for t in tags), key=lambda t: (t["group_name"], t["tag_name"]))]
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":"))
    data = text.encode()
    # zlib, not hashlib: hashlib loads OpenSSL (~3.5 MB in every poller); this detects a change, it is no seal
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


#: Plc fields a poller does not build its connections from: a change to them is reloaded, not restarted
NOT_CONNECTION = frozenset({"plc_code", "process_code", "description", "is_active"})


def connection_changed(old: Plc, new: Plc) -> bool:
    """Whether the poller must be started again (its pool and codec come from these fields)."""
    return any(getattr(old, f.name) != getattr(new, f.name)
               for f in dataclasses.fields(Plc) if f.name not in NOT_CONNECTION)
