"""Rate limits: declared once, documented from the declarations, enforced exactly there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from limits import parse
from limits.storage import MemoryStorage
from redis.exceptions import ConnectionError as RedisConnectionError

from app.observability import metrics
from app.security import limiting, ratelimits
from app.security.ratelimit_docs import DOC_PATH, render_markdown
from app.users.models import Role
from tests.conftest import DEFAULT_PASSWORD, WINDOW_START

ROOT = Path(__file__).resolve().parents[2]


def documented_limit(name: str) -> int:
    """The amount docs/API_RATE_LIMITS.md gives for a limit (what people read, not the code)."""
    text = (ROOT / DOC_PATH).read_text(encoding="utf-8")
    row = re.search(rf"^\| `{re.escape(name)}` \| (\d+) per ", text, re.M)
    assert row, f"{name} is not in {DOC_PATH}"
    return int(row.group(1))


def test_the_document_is_generated_from_the_declarations(app):
    with app.app_context():
        expected = render_markdown()
    assert (ROOT / DOC_PATH).read_text(encoding="utf-8") == expected, (
        f"{DOC_PATH} differs from app/security/ratelimits.py: run python scripts/dev/rate_limit_docs.py")


def test_every_declared_endpoint_exists_and_names_are_unique(app):
    endpoints = set(app.view_functions)
    blueprints = {name.split(".", 1)[0] + ".*" for name in endpoints}
    for rule in ratelimits.REQUEST_LIMITS:
        for endpoint in rule.endpoints:
            assert endpoint == "*" or endpoint in endpoints or endpoint in blueprints, (rule.name, endpoint)
        parse(rule.limit)
    names = [r.name for r in ratelimits.REQUEST_LIMITS] + [t.name for t in ratelimits.FAILURE_THROTTLES]
    assert len(names) == len(set(names))
    assert endpoints >= ratelimits.EXEMPT_ENDPOINTS


def test_rate_limits_page_lists_every_declaration(app, make_user, client_for):
    page = client_for(make_user(Role.CUSTOMER)).get("/rate-limits").get_data(as_text=True)
    for name in [r.name for r in ratelimits.REQUEST_LIMITS] + [t.name for t in ratelimits.FAILURE_THROTTLES]:
        assert f'data-limit="{name}"' in page
    assert "30 per 1 minute" in page


def test_sign_in_posts_get_429_exactly_after_the_documented_limit(client, forms, frozen_clock):
    limit = documented_limit("sign-in-per-ip")
    token = forms.token()
    statuses, remaining = [], []
    for _ in range(limit):
        response = client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
        statuses.append(response.status_code)
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert response.headers["X-RateLimit-Limit"] == str(limit)
        assert response.headers["X-RateLimit-Reset"] == str(int(WINDOW_START) + 60)
    assert 429 not in statuses
    assert remaining == list(range(limit - 1, -1, -1))
    refused = client.post("/login", data={"csrf_token": token, "email": "", "password": ""})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "59"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Resource"] == "sign-in-per-ip"
    page = refused.get_data(as_text=True)
    assert 'data-testid="rate-limited"' in page and "59 seconds" in page and 'href="/rate-limits"' in page


def test_password_reset_forms_share_their_documented_limit(client, forms, frozen_clock):
    limit = documented_limit("password-reset-per-ip")
    token = forms.token("/forgot-password")
    urls = ["/forgot-password", "/reset-password/not-a-token", "/invitation/not-a-token"]
    statuses = [client.post(urls[n % 3], data={"csrf_token": token}).status_code for n in range(limit)]
    assert 429 not in statuses
    assert client.post("/forgot-password", data={"csrf_token": token}).status_code == 429
    assert client.get("/forgot-password").status_code == 200  # only the forms' POSTs count


def test_two_factor_posts_are_limited_per_address(client, frozen_clock):
    limit = documented_limit("two-factor-per-ip")
    statuses = [client.post("/login/two-factor").status_code for _ in range(limit)]
    assert 429 not in statuses
    assert client.post("/login/passkey/options").status_code == 429


def test_api_gets_json_429_exactly_after_the_documented_limit_per_token(app, frozen_clock):
    limit = documented_limit("api-per-token")
    client = app.test_client()
    headers = {"Authorization": "Bearer sat_some-token-that-nobody-has"}
    for _ in range(limit):
        assert client.get("/api/v1/openapi.json", headers=headers).status_code == 200
    refused = client.get("/api/v1/openapi.json", headers=headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "59"
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and error["limit"] == "api-per-token" and error["retry_after"] == 59
    assert error["request_id"] == refused.headers["X-Request-ID"]
    other_token = {"Authorization": "Bearer sat_another-token"}
    assert client.get("/api/v1/openapi.json", headers=other_token).status_code == 200  # per token


def test_pages_of_signed_in_users_have_the_default_limit(app, make_user, client_for, frozen_clock):
    limit = documented_limit("pages-per-user")
    user = make_user(Role.ADMIN)
    browser = client_for(user)
    for n in range(limit):
        assert browser.get("/rate-limits").status_code == 200, n
    assert "X-RateLimit-Limit" not in browser.get("/healthz").headers  # probes are exempt
    assert browser.get("/rate-limits").status_code == 429
    assert client_for(make_user(Role.ADMIN)).get("/rate-limits").status_code == 200  # per user
    assert app.test_client().get("/login").status_code == 200  # anonymous pages: no default limit


def test_rejections_are_counted_in_a_metric(client, forms, frozen_clock):
    before = metrics.RATELIMIT_REJECTIONS.labels("sign-in-per-ip")._value.get()
    token = forms.token()
    for _ in range(documented_limit("sign-in-per-ip") + 2):
        client.post("/login", data={"csrf_token": token})
    assert metrics.RATELIMIT_REJECTIONS.labels("sign-in-per-ip")._value.get() == before + 2


class FailingStorage(MemoryStorage):
    """A shared store that stops answering, like Redis going away."""

    down = True

    def incr(self, *args, **kwargs):
        if self.down:
            raise RedisConnectionError("Connection refused")
        return super().incr(*args, **kwargs)

    def acquire_entry(self, *args, **kwargs):
        if self.down:
            raise RedisConnectionError("Connection refused")
        return super().acquire_entry(*args, **kwargs)

    def get_moving_window(self, *args, **kwargs):
        if self.down:
            raise RedisConnectionError("Connection refused")
        return super().get_moving_window(*args, **kwargs)


@pytest.fixture
def redis_down(app, monkeypatch):
    """The app's counters on a shared store that refuses every call."""
    failing = FailingStorage()
    store = limiting.CounterStore(failing, retry_seconds=30, local=MemoryStorage())
    monkeypatch.setitem(app.extensions, limiting.EXTENSION_KEY, store)
    return failing


def fallbacks(limit: str, action: str) -> float:
    return metrics.RATELIMIT_FALLBACKS.labels(limit, action)._value.get()


def test_redis_down_security_limits_count_per_process(client, forms, redis_down, frozen_clock):
    before = fallbacks("sign-in-per-ip", "per_process")
    token = forms.token()
    limit = documented_limit("sign-in-per-ip")
    statuses = [client.post("/login", data={"csrf_token": token}).status_code for _ in range(limit + 1)]
    assert statuses[:limit] == [400] * limit and statuses[limit] == 429
    assert fallbacks("sign-in-per-ip", "per_process") == before + limit + 1


def test_redis_down_other_limits_let_requests_through(app, make_user, client_for, redis_down, frozen_clock):
    before = fallbacks("pages-per-user", "let_through")
    browser = client_for(make_user(Role.ADMIN))
    for _ in range(documented_limit("pages-per-user") + 5):
        response = browser.get("/rate-limits")
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
    assert fallbacks("pages-per-user", "let_through") >= before + documented_limit("pages-per-user")


def test_redis_down_sign_in_failure_throttle_still_trips(db, make_user, forms, redis_down, frozen_clock):
    user = make_user(Role.ADMIN)
    for _ in range(10):
        assert forms.post("/login", {"email": user.email, "password": "wrong password here"}).status_code == 200
    assert forms.post("/login", {"email": user.email, "password": DEFAULT_PASSWORD}).status_code == 429


def test_the_shared_store_is_tried_again_after_the_retry_time(app, client, forms, redis_down, monkeypatch,
                                                               frozen_clock):
    store = app.extensions[limiting.EXTENSION_KEY]
    token = forms.token()
    client.post("/login", data={"csrf_token": token})
    assert store.shared_down
    redis_down.down = False
    monkeypatch.setattr(limiting.time, "monotonic", lambda: 10**12)  # the retry time has passed
    response = client.post("/login", data={"csrf_token": token})
    assert response.headers["X-RateLimit-Remaining"] == str(documented_limit("sign-in-per-ip") - 1)  # shared, fresh
    assert not store.shared_down
