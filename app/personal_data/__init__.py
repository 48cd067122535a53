"""Personal data plumbing: the catalogue of categories and purposes, per-subject keys
and sealed values (crypto-shredding), and the erasure ledger. The service layer is
:mod:`app.personal_data.vault`; the privacy features (requests, erasure, export,
consent) build on it in :mod:`app.privacy`."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Forget cached keys at each transaction's end; templates reveal sealed values with
    ``|personal`` (a whole value), ``|personal_text`` (values inside a text) and
    ``|personal_json`` (before/after changes)."""
    from app.personal_data import vault

    vault.install_session_hooks()
    app.add_template_filter(vault.reveal, "personal")
    app.add_template_filter(vault.reveal_text, "personal_text")
    app.add_template_filter(vault.reveal_json, "personal_json")
