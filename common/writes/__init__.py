"""Writes to the PLC: what a value may be (values.py), the requests that write it (plan.py), the audit trail."""
