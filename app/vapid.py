"""VAPID keys for Web Push (docs/PWA.md): read from the environment by ``config.py``.

``VAPID_PRIVATE_KEY`` is the 32-byte P-256 private key in URL-safe base64 (what ``flask push
generate-vapid`` prints); the public key browsers subscribe with is derived from it.
``VAPID_SUBJECT`` (``mailto:`` or ``https:``) tells push services whom to contact. Without a
key, push is simply not configured: the account page says so and nothing is sent.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


class VapidKeyError(ValueError):
    """The configured key is not a P-256 private key in URL-safe base64."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def private_key_from(text: str) -> ec.EllipticCurvePrivateKey:
    """The private key of a URL-safe base64 value of 32 bytes; raises VapidKeyError."""
    try:
        raw = b64url_decode(text)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError) as exc:
        raise VapidKeyError(str(exc)) from None


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    """The application server key browsers subscribe with: the uncompressed point, URL-safe base64."""
    return b64url(key.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint))


def new_key_pair() -> tuple[str, str]:
    """A new (private, public) pair in the form the configuration and the browser take."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), public_key_of(key)


# The push services of Chromium/Android, Firefox, Safari and Edge: the only hosts a subscription may name, so
# that nobody can make the portal post to an address of their choosing (an internal service, say).
PUSH_SERVICE_HOSTS = ("fcm.googleapis.com", "android.googleapis.com", "push.services.mozilla.com",
                      "push.apple.com", "notify.windows.com")


def settings(env: Mapping[str, str], *, production: bool, error: type[Exception] = ValueError) -> dict:
    """The Web Push part of the configuration; raises ``error`` with one line naming the variable."""
    private = env.get("VAPID_PRIVATE_KEY", "").strip()
    subject = env.get("VAPID_SUBJECT", "").strip()
    allow_http = env.get("PUSH_ALLOW_HTTP_ENDPOINTS", "").strip().lower() in ("1", "true", "yes", "on")
    if allow_http and production:
        raise error("PUSH_ALLOW_HTTP_ENDPOINTS is on: push endpoints must be https in production")
    public = None
    if private:
        try:
            public = public_key_of(private_key_from(private))
        except VapidKeyError:
            raise error("VAPID_PRIVATE_KEY must be a P-256 private key of 32 bytes in URL-safe base64 "
                             "(make one with: flask push generate-vapid)") from None
        if not subject.startswith(("mailto:", "https://")):
            raise error("VAPID_SUBJECT must be a mailto: or https: address when VAPID_PRIVATE_KEY is set")
    hosts = tuple(h.strip().lower() for h in env.get("PUSH_SERVICE_HOSTS", "").split(",") if h.strip())
    return {"PUSH_SERVICE_HOSTS": hosts or PUSH_SERVICE_HOSTS,
            "VAPID_PRIVATE_KEY": private or None, "VAPID_PUBLIC_KEY": public, "VAPID_SUBJECT": subject or None,
            # Tests deliver to a loopback receiver over plain HTTP; real push services are https.
            "PUSH_ALLOW_HTTP_ENDPOINTS": allow_http}
