"""The config store: lines, processes, PLC connections, polling groups and tags in SQLite."""

from common.config_store.model import Line, Plc, PollingGroup, Process, Tag
from common.config_store.schema import SCHEMA_VERSION, connect, open_store

__all__ = ["SCHEMA_VERSION", "Line", "Plc", "PollingGroup", "Process", "Tag", "connect", "open_store"]
