"""What the privacy services refuse, with a message that is safe to show."""

from __future__ import annotations


class PrivacyError(Exception):
    """A refused change; ``message`` says why (translated), ``field`` names the form field."""

    def __init__(self, message, field: str | None = None):
        super().__init__(str(message))
        self.message, self.field = message, field


class InvalidRequest(PrivacyError):
    """A value that cannot be accepted."""


class NotAllowed(PrivacyError):
    """The actor may not handle data-subject requests."""


class NotVerified(PrivacyError):
    """The requester's identity is not verified yet."""


class AlreadyVerified(PrivacyError):
    """The identity was already verified, or the request decided."""


class AlreadyDecided(PrivacyError):
    """The request was completed or refused already."""


class RequestChanged(PrivacyError):
    """Someone changed the request after the actor opened it."""


class LinkInvalid(PrivacyError):
    """A confirmation link that is unknown, used up, expired or no longer needed."""


class FulfilmentUnavailable(PrivacyError):
    """The portal cannot carry out this kind of request (yet); nothing was changed."""
