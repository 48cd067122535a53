"""Server-side sessions: the cookie carries only a random id.

Session data lives in Redis in production and in an in-process store on the
embedded default. Stores are keyed by a SHA-256 of the session id, so a copy of the
store does not hand out live cookies. A per-user index lets a user's sessions be
listed and ended (password change, deactivation, "sign out everywhere").

Timeouts: a session ends after ``SESSION_IDLE_TIMEOUT`` seconds without a request and
``SESSION_ABSOLUTE_TIMEOUT`` seconds after it began (sign-in restarts the clock).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass

from flask import Flask, Request, Response, current_app
from flask.sessions import SessionInterface, SessionMixin
from flask.sessions import session_json_serializer as serializer
from redis.exceptions import RedisError
from werkzeug.datastructures import CallbackDict

from app import redis_clients

# Writing "last seen" on every request would cost a store write per page view.
TOUCH_INTERVAL = 60
API_PREFIX = "/api/"
# What a store that does not answer raises (Redis down, cut off, timing out).
STORE_ERRORS = (RedisError, OSError)
log = logging.getLogger(__name__)


def session_key(sid: str) -> str:
    """The store key of a session id (a hash: the store never holds usable cookies)."""
    return hashlib.sha256(sid.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """A session whose data is kept on the server."""

    def __init__(self, data=None, sid: str | None = None, meta: dict | None = None):
        def on_update(_self):
            _self.modified = True

        super().__init__(data or {}, on_update)
        self.sid = sid
        self.meta = meta or {}
        self.new = sid is None
        self.modified = False
        self.rotate = False

    @property
    def key(self) -> str | None:
        return session_key(self.sid) if self.sid else None

    def regenerate(self) -> None:
        """Give this session a new id at the next save (sign-in, step-up)."""
        self.rotate = True
        self.modified = True


@dataclass(frozen=True)
class SessionInfo:
    """What a user is shown about one of their sessions."""

    key: str
    user_id: int | None
    created: float
    last_seen: float
    ip: str | None
    user_agent: str | None

    @property
    def short_id(self) -> str:
        return self.key[:10]


class MemorySessionStore:
    """In-process store for the embedded default (one process, lost on restart)."""

    def __init__(self):
        self._records: dict[str, tuple[float, str]] = {}
        self._by_user: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> dict | None:
        with self._lock:
            item = self._records.get(key)
            if item is None:
                return None
            expires, raw = item
            if expires < time.time():
                del self._records[key]
                return None
            return json.loads(raw)

    def save(self, key: str, record: dict, ttl: int) -> None:
        with self._lock:
            self._records[key] = (time.time() + ttl, json.dumps(record))
            user_id = record["meta"].get("user_id")
            if user_id is not None:
                self._by_user.setdefault(user_id, set()).add(key)

    def delete(self, key: str) -> None:
        with self._lock:
            item = self._records.pop(key, None)
            if item is not None:
                user_id = json.loads(item[1])["meta"].get("user_id")
                self._by_user.get(user_id, set()).discard(key)

    def keys_for_user(self, user_id: int) -> list[str]:
        with self._lock:
            return list(self._by_user.get(user_id, ()))

    def ping(self) -> None:
        """The memory store is always reachable."""


class RedisSessionStore:
    """Redis store: one key per session with a TTL, and a set of keys per user."""

    def __init__(self, client, prefix: str = "saintara:sess:"):
        self._redis = client
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    def _u(self, user_id: int) -> str:
        return f"{self._prefix}user:{user_id}"

    def load(self, key: str) -> dict | None:
        raw = self._redis.get(self._k(key))
        return None if raw is None else json.loads(raw)

    def save(self, key: str, record: dict, ttl: int) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._k(key), json.dumps(record), ex=max(1, int(ttl)))
        user_id = record["meta"].get("user_id")
        if user_id is not None:
            pipe.sadd(self._u(user_id), key)
        pipe.execute()

    def delete(self, key: str) -> None:
        raw = self._redis.get(self._k(key))
        pipe = self._redis.pipeline()
        pipe.delete(self._k(key))
        if raw is not None:
            user_id = json.loads(raw)["meta"].get("user_id")
            if user_id is not None:
                pipe.srem(self._u(user_id), key)
        pipe.execute()

    def keys_for_user(self, user_id: int) -> list[str]:
        keys = [k.decode() if isinstance(k, bytes) else k for k in self._redis.smembers(self._u(user_id))]
        if not keys:
            return []
        alive = self._redis.mget([self._k(k) for k in keys])
        dead = [k for k, v in zip(keys, alive, strict=True) if v is None]
        if dead:
            self._redis.srem(self._u(user_id), *dead)
        return [k for k, v in zip(keys, alive, strict=True) if v is not None]

    def ping(self) -> None:
        self._redis.ping()


class ServerSessionInterface(SessionInterface):
    """Flask session interface backed by a server-side store."""

    def __init__(self, store):
        self.store = store

    # -- reading --------------------------------------------------------
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        if request.path.startswith(API_PREFIX):
            return ServerSession()  # the JSON API authenticates by bearer token, never by cookie
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 128:
            return ServerSession()
        try:
            record = self.store.load(session_key(sid))
        except STORE_ERRORS:
            return _unavailable()
        if record is None:
            return ServerSession()
        meta, now = record["meta"], time.time()
        expired = (
            now - meta["last_seen"] > app.config["SESSION_IDLE_TIMEOUT"]
            or now - meta["created"] > app.config["SESSION_ABSOLUTE_TIMEOUT"]
        )
        if expired:
            self.store.delete(session_key(sid))
            return ServerSession()
        return ServerSession(serializer.loads(record["data"]), sid=sid, meta=meta)

    # -- writing --------------------------------------------------------
    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain, path = self.get_cookie_domain(app), self.get_cookie_path(app)
        if not session and session.modified:
            if session.sid:
                with contextlib.suppress(*STORE_ERRORS):
                    self.store.delete(session.key)
                response.delete_cookie(name, domain=domain, path=path)
            return
        if not session:
            return  # nothing worth storing (an anonymous visitor who got no CSRF token)

        now = time.time()
        new_cookie = False
        if session.rotate and session.sid:
            self.store.delete(session.key)
            session.sid = None
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
            session.meta = {"created": now, "last_seen": now}
            new_cookie = True
        elif not session.modified and now - session.meta.get("last_seen", 0) < TOUCH_INTERVAL:
            return

        from flask import request

        session.meta.update(
            last_seen=now,
            user_id=_as_user_id(session.get("_user_id")),
            ip=request.remote_addr,
            user_agent=(request.user_agent.string or "")[:200],
        )
        remaining = app.config["SESSION_ABSOLUTE_TIMEOUT"] - (now - session.meta["created"])
        ttl = min(app.config["SESSION_IDLE_TIMEOUT"], remaining)
        try:
            self.store.save(session.key, {"data": serializer.dumps(dict(session)), "meta": session.meta}, ttl)
        except STORE_ERRORS:
            _unavailable()
            return  # no cookie for a session that was not kept
        if new_cookie:
            response.set_cookie(
                name,
                session.sid,
                httponly=self.get_cookie_httponly(app),
                secure=self.get_cookie_secure(app),
                samesite=self.get_cookie_samesite(app),
                domain=domain,
                path=path,
            )
        response.vary.add("Cookie")

    # -- administration -------------------------------------------------
    def sessions_for_user(self, user_id: int) -> list[SessionInfo]:
        """The user's live sessions, newest activity first."""
        infos = []
        for key in self.store.keys_for_user(user_id):
            record = self.store.load(key)
            if record is None:
                continue
            meta = record["meta"]
            infos.append(
                SessionInfo(key, meta.get("user_id"), meta["created"], meta["last_seen"],
                            meta.get("ip"), meta.get("user_agent"))
            )
        return sorted(infos, key=lambda s: s.last_seen, reverse=True)

    def end_session(self, user_id: int, key: str) -> bool:
        """End one session of a user; False when ``key`` is not one of theirs."""
        if key not in self.store.keys_for_user(user_id):
            return False
        self.store.delete(key)
        return True

    def end_sessions_for_user(self, user_id: int, except_key: str | None = None) -> int:
        """End every session of a user (but ``except_key``); returns how many ended."""
        ended = 0
        for key in self.store.keys_for_user(user_id):
            if key != except_key:
                self.store.delete(key)
                ended += 1
        return ended


def _unavailable() -> ServerSession:
    """The session store does not answer: the visitor is treated as signed out, the page
    says why (``g.session_store_down``), and nothing breaks."""
    from flask import g

    if not g.get("session_store_down"):
        g.session_store_down = True
        log.warning("session store unreachable; serving the request without a session", exc_info=True)
    return ServerSession()


def _as_user_id(value) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def sessions_for_user(user_id: int) -> list[SessionInfo]:
    """A user's live sessions, newest activity first."""
    return current_app.session_interface.sessions_for_user(user_id)


def end_session(user_id: int, key: str) -> bool:
    """End one of a user's sessions on the server; False when it is not theirs (or gone)."""
    return current_app.session_interface.end_session(user_id, key)


def end_sessions_for_user(user_id: int, except_key: str | None = None) -> int:
    """End a user's sessions on the server (but ``except_key``); returns how many ended."""
    return current_app.session_interface.end_sessions_for_user(user_id, except_key=except_key)


def init_app(app: Flask) -> None:
    """Install the session interface: Redis when configured, else the in-process store."""
    if app.config.get("REDIS_URL"):
        store = RedisSessionStore(redis_clients.client(app.config["REDIS_URL"], timeout=2))
    else:
        store = MemorySessionStore()
    app.session_interface = ServerSessionInterface(store)
