"""Indexes the dashboard's figures rely on, declared beside the tables they belong to.

Sign-in failures of the last 24 hours are counted over the audit log (10M rows and
more): ``(action, created_at)`` makes that an index-only range scan.
"""

from sqlalchemy import Index

from app.audit.models import AuditLog

AUDIT_ACTION_CREATED_AT = Index("ix_audit_logs_action_created_at", AuditLog.action, AuditLog.created_at)
