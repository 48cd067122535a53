"""Personal data plumbing: the catalogue of categories and purposes, per-subject keys
and sealed values (crypto-shredding), and the erasure ledger. The service layer is
:mod:`app.personal_data.vault`; the privacy features (requests, erasure, export,
consent) build on it in :mod:`app.privacy`."""
