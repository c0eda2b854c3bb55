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
from collections.abc import Iterable, Iterator
from typing import Any

from common.config_store.model import Plc, PollingGroup, Tag


def _plain(row: Any) -> dict[str, Any]:
    return {k: (sorted(v) if isinstance(v, (set, frozenset)) else v) for k, v in dataclasses.asdict(row).items()}


def _json(row: Any) -> bytes:
    return json.dumps(_plain(row), sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":")).encode()


def _rows_text(plc: Plc, groups: Iterable[PollingGroup], tags: Iterable[Tag]) -> Iterator[bytes]:
    """The JSON text of ``[plc, [groups], [tags]]`` (compact, keys sorted) in pieces, a row at a time."""
    yield b"[" + _json(plc) + b",["
    for i, group in enumerate(sorted(groups, key=lambda g: g.group_name)):
        yield (b"," if i else b"") + _json(group)
    yield b"],["
    for i, tag in enumerate(sorted(tags, key=lambda t: (t.group_name, t.tag_name))):
        yield (b"," if i else b"") + _json(tag)
    yield b"]]"


def config_digest(plc: Plc, groups: Iterable[PollingGroup], tags: Iterable[Tag]) -> str:
    # Checksums run over the text a row at a time: the whole text and its rows as dicts at once took ~1 MiB
    # in a poller of 470 tags, kept as resident memory for its life (issue 19).
    # zlib, not hashlib: hashlib loads OpenSSL (~3.5 MB in every poller); this detects a change, it is no seal
    crc, adler, length = 0, 1, 0
    for piece in _rows_text(plc, groups, tags):
        crc, adler, length = zlib.crc32(piece, crc), zlib.adler32(piece, adler), length + len(piece)
    return f"{crc:08x}{adler:08x}{length:x}"


#: Plc fields a poller does not build its connections from: a change to them is reloaded, not restarted
NOT_CONNECTION = frozenset({"plc_code", "process_code", "description", "is_active"})


def connection_changed(old: Plc, new: Plc) -> bool:
    """Whether the poller must be started again (its pool and codec come from these fields)."""
    return any(getattr(old, f.name) != getattr(new, f.name)
               for f in dataclasses.fields(Plc) if f.name not in NOT_CONNECTION)
