"""Domain errors shared by services, views and the live protocol.

Each error has a stable ``code`` (the one sent to clients in ``error`` frames and checked by
tests) and a translated, human ``message``; ``field`` names the input at fault when there is one.
"""

from __future__ import annotations

from django.utils.functional import Promise


class DomainError(Exception):
    """A rule of the domain refused the operation; nothing was changed."""

    code = "error"

    def __init__(self, message: str | Promise, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)


class Invalid(DomainError):
    """The input is malformed or breaks a validation rule."""

    code = "invalid"


class Forbidden(DomainError):
    """The actor's role does not allow this operation."""

    code = "forbidden"


class WrongPhase(DomainError):
    """The meeting's current phase or state does not allow this operation."""

    code = "wrong_phase"


class RateLimited(DomainError):
    """The actor sent too many operations in a short time."""

    code = "rate_limited"


class TooLarge(DomainError):
    """The input exceeds a size limit."""

    code = "too_large"


class NotFound(DomainError):
    """The target does not exist or is not visible to the actor."""

    code = "not_found"


class Conflict(DomainError):
    """The operation clashes with the current state (duplicate, already done, last owner...)."""

    code = "conflict"


ERROR_CODES = tuple(
    cls.code for cls in (Invalid, Forbidden, WrongPhase, RateLimited, TooLarge, NotFound, Conflict)
)
