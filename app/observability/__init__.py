"""Request ids, health checks, error tracking (Sentry), Prometheus metrics and JSON logs.

Foundation plumbing, no service layer of its own: each module is installed by the factory
(request_id, requests, logs, sentry, metrics, health). A reading (app.observability.readings)
is one operational figure that a feature reports for metrics and the dashboard; gauges
compute the domain figures Prometheus scrapes.
"""
