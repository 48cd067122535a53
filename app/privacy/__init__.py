"""Privacy: erasure of customers and accounts (pseudonymisation and crypto-shredding) and the
``flask privacy`` commands.

Services: app.privacy.erasure (erasure, legal holds); the keys, sealing and the ledger it
uses are in app.personal_data. Commands: app.privacy.cli.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Tell the erasure ledger how customers and accounts are pseudonymised (a restore
    re-applies it)."""
    from app.privacy import erasure

    erasure.register()
