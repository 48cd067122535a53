"""Small security building blocks: encryption at rest, object-level scope, safe redirects."""

import pytest
from werkzeug.exceptions import NotFound

from app.inputs import safe_next_url
from app.security import crypto
from app.security.access import ensure_visible, institution_scope
from app.security.actor import Actor
from app.users.models import Role


def test_secrets_round_trip_and_rotate(app):
    from cryptography.fernet import Fernet

    with app.app_context():
        token = crypto.encrypt("JBSWY3DPEHPK3PXP")
        assert "JBSWY3DP" not in token and crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"
        old_keys = list(app.config["ENCRYPTION_KEYS"])
        app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode(), *old_keys]  # rotation: new key first
        try:
            assert crypto.decrypt(token) == "JBSWY3DPEHPK3PXP"
            app.config["ENCRYPTION_KEYS"] = [Fernet.generate_key().decode()]
            with pytest.raises(crypto.SecretUnreadable):
                crypto.decrypt(token)
        finally:
            app.config["ENCRYPTION_KEYS"] = old_keys


def test_encrypted_column_type(app):
    column = crypto.EncryptedText()
    with app.app_context():
        stored = column.process_bind_param("secret", None)
        assert stored != "secret" and column.process_result_value(stored, None) == "secret"
        assert column.process_bind_param(None, None) is None and column.process_result_value(None, None) is None


def test_institution_scope(db, make_user, make_institution):
    home, other = make_institution(), make_institution()
    admin = Actor.for_user(make_user(Role.ADMIN))
    inst_admin = Actor.for_user(make_user(Role.INSTITUTION_ADMIN, institution=home))
    assert institution_scope(Actor.system()) is None  # CLI commands and jobs
    assert institution_scope(admin) is None
    assert institution_scope(inst_admin) == home.id
    ensure_visible(admin, other.id)
    ensure_visible(inst_admin, home.id)
    with pytest.raises(NotFound):
        ensure_visible(inst_admin, other.id)


@pytest.mark.parametrize(("target", "expected"), [
    ("/dashboard?x=1", "/dashboard?x=1"),
    (None, "/home"), ("", "/home"), ("dashboard", "/home"), ("https://evil.example", "/home"),
    ("//evil.example", "/home"), ("/\\evil.example", "/home"), ("/\nevil", "/home"), ("/ok space", "/home"),
])
def test_safe_next_url(target, expected):
    assert safe_next_url(target, "/home") == expected
