"""Password policy (NIST SP 800-63B) and argon2id hashing."""

import pytest

from app.security import passwords
from app.security.passwords import WeakPassword, check_policy, policy_problems


def test_policy_accepts_long_passphrases_without_composition_rules():
    assert policy_problems("correct horse battery staple") == []
    assert policy_problems("alllowercaseletters") == []
    assert policy_problems("x" * 20 + " with spaces and ünïcödé ✓") == []


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short", "at least 12"),
        ("x" * 257, "at most 256"),
        ("qwerty123456", "most commonly used"),
        ("QWERTY123456", "most commonly used"),
        ("my saintara password", "name of this service"),
    ],
)
def test_policy_refusals(password, fragment):
    with pytest.raises(WeakPassword) as excinfo:
        check_policy(password)
    assert fragment in str(excinfo.value)


def test_policy_refuses_the_account_email_name():
    assert policy_problems("budi.santoso rocks 2026", email="budi.santoso@example.com")
    assert policy_problems("budi.santoso rocks 2026", email="other@example.com") == []


def test_common_list_has_ten_thousand_entries():
    assert len(passwords.common_passwords()) >= 9_900  # a few differ only by case


def test_shipped_list_is_the_documented_derivation():
    from scripts.dev.build_common_passwords import TARGET, common_passwords

    assert TARGET.read_text(encoding="utf-8").splitlines() == common_passwords()


def test_hash_is_argon2id_and_verifies(app):
    with app.app_context():
        hashed = passwords.hash_password("correct horse battery staple")
        assert hashed.startswith("$argon2id$")
        assert passwords.verify_password(hashed, "correct horse battery staple")
        assert not passwords.verify_password(hashed, "correct horse battery stapl")
        assert not passwords.verify_password("not a hash", "anything at all")
        assert not passwords.verify_password(None, "anything at all")


def test_long_passwords_are_not_truncated(app):
    base = "a" * 200
    with app.app_context():
        hashed = passwords.hash_password(base + "1")
        assert not passwords.verify_password(hashed, base + "2")


def test_unicode_is_normalised(app):
    with app.app_context():
        hashed = passwords.hash_password("caf\u00e9 au lait please")  # é as one code point
        assert passwords.verify_password(hashed, "cafe\u0301 au lait please")  # e + combining accent


def test_needs_rehash_when_costs_rise(app):
    with app.app_context():
        cheap = passwords.hash_password("correct horse battery staple")
        assert not passwords.needs_rehash(cheap)
        app.config["ARGON2_TIME_COST"] += 1
        try:
            assert passwords.needs_rehash(cheap)
        finally:
            app.config["ARGON2_TIME_COST"] -= 1
