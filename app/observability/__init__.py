"""Request ids, health checks and (later) error tracking, metrics and structured logs."""
