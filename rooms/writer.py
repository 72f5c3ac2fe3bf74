"""The socket's commands, run off the event loop; returns the reply frame (``ack`` or
``error``) for each."""

from __future__ import annotations

import logging

from django.utils import translation

from rooms import services
from rooms.errors import DomainError
from rooms.hub import database_call

log = logging.getLogger(__name__)


def _error(ref, code: str, message: str, field=None) -> dict:
    return {"type": "error", "ref": ref, "code": code, "message": message, "field": field}


async def execute(participant, frame, lang: str) -> dict:
    """Run ``frame`` (a validated command) as ``participant``; the reply to send."""

    def run():
        with translation.override(lang):
            try:
                outcome = services.command_execute(actor=participant, command=frame)
            except DomainError as e:
                return _error(frame.ref, e.code, str(e.message), e.field)
            return {"type": "ack", "ref": frame.ref, "seq": outcome.seq, "result": outcome.result}

    try:
        return await database_call(run)()
    except Exception:
        log.exception("command %s failed", frame.type)
        return _error(
            frame.ref, "conflict", "The server could not complete this command; try again."
        )
