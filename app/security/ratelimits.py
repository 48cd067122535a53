"""Every rate limit of the portal, declared in this one place.

Two kinds:

* :class:`RequestLimit`: every matching request counts (per address, per signed-in
  user or per API token), in fixed windows aligned to the clock. The ``N+1``-th request
  of a window is refused with 429 (app.security.limiting enforces them).
* :class:`~app.security.throttle.FailureThrottle`: only failures count (wrong
  passwords, wrong codes), in a moving window; a success clears them.

``docs/API_RATE_LIMITS.md`` and the portal's "Rate limits" page are generated from
these declarations (app.security.ratelimit_docs); a test fails when the document and
the code differ. ``security=True`` marks limits that keep counting per process while
Redis does not answer; the others let requests through until it is back.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from limits import RateLimitItem, parse

from app.security.throttle import FailureThrottle
from app.settings import services as settings


class Per(enum.StrEnum):
    IP = "ip"
    USER = "user"
    TOKEN = "token"  # noqa: S105 (a kind of counter, not a secret)

    @property
    def label(self):
        return {Per.IP: _l("IP address"), Per.USER: _l("signed-in user"), Per.TOKEN: _l("API token")}[self]


@dataclass(frozen=True)
class RequestLimit:
    """At most ``limit`` requests per ``per`` to ``endpoints`` (``bp.*`` names a whole blueprint)."""

    name: str
    limit: str
    per: Per
    endpoints: tuple[str, ...]
    applies_to: object  # a (lazily translated) description for people
    purpose: object
    methods: tuple[str, ...] = ()  # empty: every method
    security: bool = False
    setting: str | None = None  # a runtime setting that replaces the amount (``limit`` is its default)

    def item(self) -> RateLimitItem:
        """The limit in force now (a setting may change the amount at runtime)."""
        if self.setting is None:
            return _parsed(self.limit)
        return _parsed(f"{settings.get(self.setting)} per {self.limit.split(' per ', 1)[1]}")

    def matches(self, method: str) -> bool:
        return not self.methods or method in self.methods


@functools.cache
def _parsed(text: str) -> RateLimitItem:
    return parse(text)


SIGN_IN_POSTS = RequestLimit(
    "sign-in-per-ip", "30 per minute", Per.IP, ("auth.login",), methods=("POST",), security=True,
    applies_to=_l("Sign-in form submissions"),
    purpose=_l("Every sign-in attempt from one address, successful or not: checking a password is deliberately "
               "slow, so a flood of attempts must not become a denial of service."))
TWO_FACTOR_POSTS = RequestLimit(
    "two-factor-per-ip", "30 per minute", Per.IP,
    ("auth.two_factor_verify", "auth.two_factor_backup", "auth.passkey_login_options", "auth.passkey_login_verify"),
    security=True, applies_to=_l("Second sign-in step: authenticator codes, backup codes and passkeys"),
    purpose=_l("Second-factor attempts from one address, whatever account they are for."))
PASSWORD_LINK_POSTS = RequestLimit(
    "password-reset-per-ip", "10 per 15 minutes", Per.IP,
    ("auth.forgot_password", "auth.reset_password", "auth.accept_invitation"), methods=("POST",), security=True,
    applies_to=_l("\"Forgot password\", password-reset and invitation forms"),
    purpose=_l("Requests for reset mails and attempts to use reset or invitation links from one address."))
CSV_EXPORTS = RequestLimit(
    "csv-exports-per-user", "60 per hour", Per.USER, (), setting="csv_exports_per_hour",
    applies_to=_l("CSV exports of lists"),
    purpose=_l("Each export can stream millions of rows; the amount is the setting \"CSV exports per person per "
               "hour\" (60 unless changed)."))
API_PER_TOKEN = RequestLimit(
    "api-per-token", "600 per minute", Per.TOKEN, ("api.*",),
    applies_to=_l("The JSON API (/api/v1)"),
    purpose=_l("Requests made with one API token (requests without a token count per address)."))
ANALYTICS_BEACONS = RequestLimit(
    "analytics-per-user", "120 per minute", Per.USER, ("analytics.collect",), methods=("POST",),
    applies_to=_l("Usage analytics sent by the portal's own script"),
    purpose=_l("Clicks on a page are counted for people who consented; far more than anyone clicks by hand."))
SENTRY_TUNNEL = RequestLimit(
    "sentry-tunnel-per-ip", "120 per minute", Per.IP, ("replay.tunnel",), methods=("POST",),
    applies_to=_l("Browser error reports and session replays sent on to Sentry"),
    purpose=_l("The portal's pages send their error reports and replays through the portal; a session sends a "
               "replay every few seconds at most."))
PUSH_TESTS = RequestLimit(
    "push-tests-per-user", "5 per minute", Per.USER, ("push.send_test",), methods=("POST",),
    applies_to=_l("Test notifications sent from the account page"),
    purpose=_l("Each press sends a notification to every device of the account through the browsers' push "
               "services."))
PAGES_PER_USER = RequestLimit(
    "pages-per-user", "300 per minute", Per.USER, ("*",),
    applies_to=_l("Every other page, for signed-in users"),
    purpose=_l("A ceiling no person reaches by hand; it stops a runaway script using someone's session."))

REQUEST_LIMITS: tuple[RequestLimit, ...] = (
    SIGN_IN_POSTS, TWO_FACTOR_POSTS, PASSWORD_LINK_POSTS, CSV_EXPORTS, API_PER_TOKEN, ANALYTICS_BEACONS, SENTRY_TUNNEL,
    PUSH_TESTS, PAGES_PER_USER)

# Endpoints that no request limit counts: probes, static files and the metrics scrape.
EXEMPT_ENDPOINTS = frozenset({"static", "health.healthz", "health.readyz", "metrics.scrape"})

# --- Failure throttles -------------------------------------------------------------------
ACCOUNT, ADDRESS = _l("account"), _l("IP address")
# NIST SP 800-63B 5.2.2: at most 100 consecutive failures per account. The short
# window slows guessing; the long one caps it, and a successful sign-in clears both.
SIGN_IN_ACCOUNT_SHORT = FailureThrottle(
    "sign-in-account-short", "10 per 15 minutes", ACCOUNT,
    _l("Failed sign-ins for one e-mail address, counted whether or not the account exists."))
SIGN_IN_ACCOUNT_LONG = FailureThrottle(
    "sign-in-account-long", "100 per 30 days", ACCOUNT,
    _l("Caps consecutive failed sign-ins per account below NIST's limit of 100."))
SIGN_IN_IP = FailureThrottle(
    "sign-in-ip", "50 per 15 minutes", ADDRESS,
    _l("Failed sign-ins from one address, whatever e-mail they try."))
SIGN_IN_ACCOUNT_THROTTLES = (SIGN_IN_ACCOUNT_SHORT, SIGN_IN_ACCOUNT_LONG)

SECOND_FACTOR_SHORT = FailureThrottle(
    "second-factor-short", "5 per 5 minutes", ACCOUNT,
    _l("Wrong authenticator or backup codes for one account: pauses guessing."))
SECOND_FACTOR_LOCK = FailureThrottle(
    "second-factor-lock", "10 per 1 day", ACCOUNT,
    _l("Wrong authenticator codes for one account: the tenth locks codes until a backup code or a superadmin "
       "clears it."))

# "Forgot password" mails per address: enough for a typo or a lost mail, not a mail bomb.
RESET_MAILS_PER_ADDRESS = FailureThrottle(
    "password-reset-mails", "3 per 1 hour", ACCOUNT,
    _l("Password-reset mails sent to one address, so the form cannot flood a mailbox."))

API_AUTH_FAILURES = FailureThrottle(
    "api-auth-failures-ip", "20 per 1 minute", ADDRESS,
    _l("Requests to the JSON API with an unknown, expired or revoked token from one address."))

FAILURE_THROTTLES: tuple[FailureThrottle, ...] = (
    SIGN_IN_ACCOUNT_SHORT, SIGN_IN_ACCOUNT_LONG, SIGN_IN_IP, SECOND_FACTOR_SHORT, SECOND_FACTOR_LOCK,
    RESET_MAILS_PER_ADDRESS, API_AUTH_FAILURES)


def by_endpoint() -> dict[str, list[RequestLimit]]:
    """Endpoint (or ``bp.*`` / ``*``) to the request limits that count it."""
    table: dict[str, list[RequestLimit]] = {}
    for rule in REQUEST_LIMITS:
        for endpoint in rule.endpoints:
            table.setdefault(endpoint, []).append(rule)
    return table

