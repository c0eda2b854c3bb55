"""The gateway stage: REST, WebSocket and the dashboard, from the stages' live telemetry."""
