"""Passkeys (WebAuthn) as a second factor: register, verify at sign-in or step-up, remove.

Built on the ``webauthn`` package. The caller (a route) keeps the one-time challenge
in the server-side session and passes the relying party (id and origin) it serves
under; services never read the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

import webauthn
from flask import current_app
from sqlalchemy import delete, select
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from app import events
from app.audit import services as audit
from app.audit.models import AuditAction, AuditResult
from app.auth.backup_codes import generate_backup_codes
from app.auth.models import BackupCode, PasskeyCredential
from app.auth.two_factor import (
    WouldLeaveNoSecondFactor,
    backup_codes_left,
    has_second_factor,
    has_totp,
)
from app.database import utcnow
from app.extensions import db
from app.security.actor import Actor
from app.users.models import User
from app.users.services import two_factor_required_for

RP_NAME = "Saintara Admin"
TIMEOUT_MS = 120_000
MAX_NAME = 100


class PasskeyRejected(Exception):
    """The browser's answer did not prove possession of a registered passkey."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser must think it talks to: the host name and the page origin."""

    id: str
    origin: str


def user_handle(user: User) -> bytes:
    """A stable, opaque WebAuthn user handle (no e-mail or id in clear on the authenticator)."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"webauthn-user:{user.id}".encode(), hashlib.sha256).digest()


def passkeys_of(user: User) -> list[PasskeyCredential]:
    return list(db.session.scalars(select(PasskeyCredential).where(PasskeyCredential.user_id == user.id)
                                   .order_by(PasskeyCredential.created_at, PasskeyCredential.id)))


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for passkey in passkeys_of(user):
        transports = []
        for name in passkey.transports or ():
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue
        descriptors.append(PublicKeyCredentialDescriptor(
            id=webauthn.base64url_to_bytes(passkey.credential_id), transports=transports or None))
    return descriptors


def registration_options(user: User, rp: RelyingParty) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.create`` (JSON) and the challenge to keep."""
    options = webauthn.generate_registration_options(
        rp_id=rp.id, rp_name=RP_NAME, user_id=user_handle(user), user_name=user.email,
        user_display_name=user.display_name, timeout=TIMEOUT_MS,
        exclude_credentials=_descriptors(user),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
    )
    return webauthn.options_to_json(options), options.challenge


def register(actor: Actor, user: User, rp: RelyingParty, credential: str | dict, challenge: bytes,
             name: str) -> tuple[PasskeyCredential, list[str] | None]:
    """Verify the browser's attestation and store the passkey (audited PASSKEY_REGISTER).

    Returns the passkey and, when the account had no backup codes, a fresh set of them.
    Raises PasskeyRejected.
    """
    name = " ".join(name.split())[:MAX_NAME] or "Passkey"
    try:
        verified = webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        audit.log(actor, AuditAction.PASSKEY_REGISTER, resource=user, result=AuditResult.FAILURE,
                  description=f"Passkey not registered: {exc}"[:300])
        raise PasskeyRejected(str(exc)) from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(PasskeyCredential.id).where(PasskeyCredential.credential_id == credential_id)):
        raise PasskeyRejected("this passkey is already registered")
    transports = _transports(credential)
    passkey = PasskeyCredential(
        user_id=user.id, credential_id=credential_id, public_key=verified.credential_public_key,
        sign_count=verified.sign_count, transports=transports, aaguid=str(verified.aaguid), name=name)
    db.session.add(passkey)
    db.session.flush()
    audit.log(actor, AuditAction.PASSKEY_REGISTER, resource=user, description=f"Passkey {name!r} registered",
              changes={"security_keys": {"added": name}})
    events.announce(events.second_factor_added, user_id=user.id, method="passkey")
    codes = generate_backup_codes(actor, user) if backup_codes_left(user) == 0 else None
    return passkey, codes


def _transports(credential: str | dict) -> list[str]:
    data = json.loads(credential) if isinstance(credential, str) else credential
    transports = (data.get("response") or {}).get("transports") or []
    return [str(t)[:32] for t in transports if isinstance(t, str)][:8]


def authentication_options(user: User, rp: RelyingParty) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.get`` limited to the user's passkeys, and the challenge."""
    options = webauthn.generate_authentication_options(
        rp_id=rp.id, timeout=TIMEOUT_MS, allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED)
    return webauthn.options_to_json(options), options.challenge


def verify_assertion(actor: Actor, user: User, rp: RelyingParty, credential: str | dict, challenge: bytes, *,
                     purpose: str) -> PasskeyCredential:
    """Check the browser's signature with one of the user's passkeys; audited when refused.

    Raises PasskeyRejected.
    """
    data = json.loads(credential) if isinstance(credential, str) else credential
    raw_id = data.get("rawId") or data.get("id") if isinstance(data, dict) else None
    passkey = db.session.scalar(select(PasskeyCredential).where(
        PasskeyCredential.user_id == user.id, PasskeyCredential.credential_id == str(raw_id or "")))
    try:
        if passkey is None:
            raise PasskeyRejected("not one of this account's passkeys")
        verified = webauthn.verify_authentication_response(
            credential=data, expected_challenge=challenge, expected_rp_id=rp.id, expected_origin=rp.origin,
            credential_public_key=passkey.public_key, credential_current_sign_count=passkey.sign_count)
    except (PasskeyRejected, WebAuthnException, ValueError, KeyError, TypeError) as exc:
        audit.log(actor, AuditAction.TWO_FACTOR_FAILURE, resource=user, result=AuditResult.FAILURE,
                  description=f"Passkey refused ({purpose}): {exc}"[:300])
        raise PasskeyRejected(str(exc)) from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = utcnow()
    return passkey


def remove(actor: Actor, user: User, passkey_id: int) -> PasskeyCredential:
    """Remove one of the user's own passkeys (audited). Raises LookupError when it is not
    theirs and WouldLeaveNoSecondFactor when the policy needs it."""
    passkey = db.session.scalar(select(PasskeyCredential).where(PasskeyCredential.id == passkey_id,
                                                                PasskeyCredential.user_id == user.id))
    if passkey is None:
        raise LookupError("no such passkey")
    if two_factor_required_for(user.role) and not has_totp(user) and len(passkeys_of(user)) == 1:
        raise WouldLeaveNoSecondFactor("your role requires a second factor")
    db.session.delete(passkey)
    db.session.flush()
    if not has_second_factor(user):
        db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    audit.log(actor, AuditAction.PASSKEY_REMOVE, resource=user, description=f"Passkey {passkey.name!r} removed",
              changes={"security_keys": {"removed": passkey.name}})
    return passkey
