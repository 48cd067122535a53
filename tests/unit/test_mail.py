"""The mail service: configuration, backends, and sending only after the commit."""

from __future__ import annotations

import pytest

from app import mail
from app.config import ConfigError, load_config
from app.database import transaction


def test_console_is_the_embedded_default_and_smtp_comes_from_the_environment(tmp_path):
    default = load_config({}, instance_path=tmp_path)
    assert default["MAIL_BACKEND"] == "console" and default["PUBLIC_URL"] is None
    smtp = load_config({"SMTP_HOST": "mail.example.com", "SMTP_USERNAME": "portal", "SMTP_PASSWORD": "pw",
                        "MAIL_FROM": "Portal <portal@example.com>", "PUBLIC_URL": "https://admin.example.com/"},
                       instance_path=tmp_path)
    assert (smtp["MAIL_BACKEND"], smtp["SMTP_PORT"], smtp["SMTP_STARTTLS"]) == ("smtp", 587, True)
    assert smtp["MAIL_FROM"] == "Portal <portal@example.com>" and smtp["PUBLIC_URL"] == "https://admin.example.com"
    implicit_tls = load_config({"SMTP_HOST": "mail.example.com", "SMTP_SSL": "1"}, instance_path=tmp_path)
    assert (implicit_tls["SMTP_PORT"], implicit_tls["SMTP_STARTTLS"]) == (465, False)


@pytest.mark.parametrize(("env", "message"), [
    ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND must be one of"),
    ({"MAIL_BACKEND": "smtp"}, "SMTP_HOST is not set"),
    ({"PUBLIC_URL": "admin.example.com"}, "PUBLIC_URL must be"),
    ({"PUBLIC_URL": "https://admin.example.com/portal"}, "PUBLIC_URL must be"),
    ({"SMTP_HOST": "x", "SMTP_PORT": "many"}, "SMTP_PORT must be a whole number"),
])
def test_bad_mail_settings_are_refused(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(env, instance_path=tmp_path)


def test_mail_leaves_after_the_commit_and_never_after_a_rollback(app, db, outbox):
    with app.test_request_context():
        with transaction():
            mail.send("a@example.com", "Hello", "Body")
            assert outbox == []
        assert [m["To"] for m in outbox] == ["a@example.com"]
        with pytest.raises(RuntimeError), transaction():
            mail.send("b@example.com", "Hello", "Body")
            raise RuntimeError("the change failed")
    assert [m["To"] for m in outbox] == ["a@example.com"]
    assert outbox[0]["From"] == app.config["MAIL_FROM"] and outbox[0]["Auto-Submitted"] == "auto-generated"


def test_console_backend_prints_the_mail(app, capsys, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "console")
    with app.app_context():
        mail.deliver(app, mail.build_message("c@example.com", "Subject line", "The body"))
    printed = capsys.readouterr().out
    assert "To: c@example.com" in printed and "The body" in printed


def test_links_use_public_url_when_configured(app, monkeypatch):
    with app.test_request_context(base_url="http://forged.example"):
        assert mail.public_url("auth.login") == "http://forged.example/login"
        monkeypatch.setitem(app.config, "PUBLIC_URL", "https://admin.example.com")
        assert mail.public_url("auth.login") == "https://admin.example.com/login"
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    with app.app_context(), pytest.raises(RuntimeError):
        mail.public_url("auth.login")


def test_an_unreachable_smtp_server_is_reported(app):
    settings = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": 1, "SMTP_TIMEOUT": 2, "SMTP_SSL": False,
                "SMTP_STARTTLS": False, "SMTP_USERNAME": None, "SMTP_PASSWORD": None}
    with app.app_context():
        message = mail.build_message("d@example.com", "x", "y")
    with pytest.raises(mail.MailNotSent):
        mail.deliver_smtp(settings, message)
