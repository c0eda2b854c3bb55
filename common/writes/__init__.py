"""Writes to the PLC: what a value may be (values.py), the requests that write it (plan.py), the audit trail."""

#: the longest a write command runs in the poller (old values, the writes, the read back), whatever the PLC does
WRITE_DEADLINE_S = 8.0
