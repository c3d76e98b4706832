"""Domain exceptions. Services raise these; `chalicelib.api.responses` maps them to HTTP."""
from __future__ import annotations


class ObeliskError(Exception):
    """Base of every error a caller may see. `message` is one of the standard KHEOPS messages."""

    status = 500
    message = "Internal Server Error"

    def __init__(self, detail: str = "", *, message: str | None = None):
        super().__init__(detail or self.message)
        self.detail = detail
        if message:
            self.message = message


class BadRequest(ObeliskError):
    status = 400
    message = "Bad Request"


class BadQueryParameter(BadRequest):
    message = "Bad Query Parameter"


class BadFormParameter(BadRequest):
    message = "Bad Form Parameter"


class Unauthenticated(ObeliskError):
    """No credentials, or credentials that do not verify. Answered 401 with no detail."""

    status = 401
    message = "Unauthorized"


class Forbidden(ObeliskError):
    status = 403
    message = "Authorization error"


class EmailNotVerified(Forbidden):
    """The identity provider does not vouch for the user's e-mail address (`email_verified`)."""


class NotFound(ObeliskError):
    status = 404
    message = "Not Found"


class AlbumNotFound(NotFound):
    message = "Album Not Found"


class StudyNotFound(NotFound):
    message = "Study Not Found"


class SeriesNotFound(NotFound):
    message = "Series Not Found"


class UserNotFound(NotFound):
    message = "User Not Found"


class WebhookNotFound(NotFound):
    message = "Webhook Not Found"


class CapabilityNotFound(NotFound):
    message = "Capability Not Found"


class NotAcceptable(ObeliskError):
    status = 406
    message = "Not Acceptable"


class Conflict(ObeliskError):
    status = 409
    message = "Conflict"


class EmailTaken(Conflict):
    """Another user already holds this e-mail address: addresses are unique in Obelisk."""


class ConcurrentChange(Conflict):
    """Other requests kept changing the same rows through every attempt; retrying may succeed."""


class PayloadTooLarge(ObeliskError):
    status = 413
    message = "Payload Too Large"


class UnsupportedMediaType(ObeliskError):
    status = 415
    message = "Unsupported Media Type"


class UpstreamFailure(ObeliskError):
    status = 502
    message = "Bad Gateway"


class OAuthError(Exception):
    """An OAuth 2.0 error (RFC 6749 section 5.2): answered 400 `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str = ""):
        super().__init__(description or error)
        self.error = error
        self.description = description

    def body(self) -> dict:
        return {"error": self.error, **({"error_description": self.description} if self.description else {})}


class MissingAuth(ObeliskError):
    """A launch without a site admin's token: 401 with a body naming what is missing."""

    status = 401
    message = "Missing Auth"
