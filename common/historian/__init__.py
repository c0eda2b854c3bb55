"""The historian: where tag values are stored (SQLite by default, Oracle when configured)."""
