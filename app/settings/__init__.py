"""Typed system settings."""
