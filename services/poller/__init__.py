"""The poller stage: one process per PLC, polling its groups and pushing PollingData."""
