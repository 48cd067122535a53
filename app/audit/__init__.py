"""The security audit log: model, hash chain, the audit service and ``flask audit``."""
