"""docs/protocol.md stays complete and true: every command, event, frame, error code and
reason of rooms/protocol.py is documented, and every JSON example matches the schema."""

import json
import re
import typing
from pathlib import Path

import pytest
from django.conf import settings

from rooms import limits, protocol

DOC = Path(settings.BASE_DIR) / "docs" / "protocol.md"
FENCE = re.compile(r"^( *)```json (client|server)\n(.*?)^\1```", re.S | re.M)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _examples(doc: str) -> list[tuple[str, dict]]:
    """Every example frame: a block holds one JSON value, or one per line."""
    out = []
    for _indent, side, body in FENCE.findall(doc):
        try:
            values = [json.loads(body)]
        except ValueError:
            values = [json.loads(line) for line in body.splitlines() if line.strip()]
        out += [(side, v) for v in values]
    return out


def _literals(alias) -> tuple[str, ...]:
    return typing.get_args(alias)


def test_every_command_and_event_is_documented_with_an_example(doc):
    """Each command type has a section and a client example; each event name has a row in
    the events table and a server example."""
    examples = _examples(doc)
    client_types = {f["type"] for side, f in examples if side == "client"}
    event_names = {f["name"] for side, f in examples if side == "server" and f["type"] == "event"}
    for command in [*protocol.COMMAND_TYPES, "sync"]:
        assert f"`{command}`" in doc, f"{command} is not documented in docs/protocol.md"
        assert command in client_types, f"{command} has no client example in docs/protocol.md"
    for name in protocol.EVENT_DATA:
        assert f"| `{name}` |" in doc, f"{name} is missing from the events table"
        assert name in event_names, f"{name} has no server example in docs/protocol.md"


def test_every_server_frame_error_code_and_reason_is_documented(doc):
    """Each server frame type has its section; each error code, resync reason and closing
    reason is explained."""
    for frame in ("welcome", "event", "ack", "error", "presence", "resync", "closing"):
        assert re.search(rf"^### `{frame}`", doc, re.M) or f"### `ack` and `{frame}`" in doc, frame
    for code in _literals(protocol.ErrorCode):
        assert f"| `{code}` |" in doc, f"error code {code} is missing from the errors table"
    reasons = [
        *_literals(protocol.Resync.model_fields["reason"].annotation),
        *_literals(protocol.Closing.model_fields["reason"].annotation),
    ]
    for reason in reasons:
        assert f"`{reason}`" in doc, f"reason {reason} is not documented"


def test_every_example_is_a_valid_frame(doc):
    """Client examples parse as client frames and server examples as server frames."""
    examples = _examples(doc)
    assert len(examples) > 80
    for side, frame in examples:
        adapter = (
            protocol.client_frame_adapter if side == "client" else protocol.server_frame_adapter
        )
        adapter.validate_python(frame)


def test_the_limits_in_the_docs_are_the_code_s(doc):
    """Frame size, rate limit and text lengths in the docs match the settings and
    rooms/limits.py."""
    assert settings.PAUSE_WS_MAX_FRAME_BYTES == 65536 and "64 KiB (65536 bytes" in doc
    rate = (
        f"{settings.PAUSE_RATE_LIMIT_PER_SECOND:g} per second with bursts of "
        f"{settings.PAUSE_RATE_LIMIT_BURST}"
    )
    assert rate in doc
    for label, value in [
        ("display name", limits.DISPLAY_NAME_MAX),
        ("challenge title", limits.CHALLENGE_TITLE_MAX),
        ("context", limits.CHALLENGE_CONTEXT_MAX),
        ("ask", limits.CHALLENGE_ASK_MAX),
        ("idea", limits.IDEA_MAX),
        ("reply", limits.REPLY_MAX),
        ("action", limits.ACTION_MAX),
        ("takeaway", limits.TAKEAWAY_MAX),
        ("group name", limits.CLUSTER_NAME_MAX),
        ("removal reason and status note", limits.REASON_MAX),
        ("`ref`", limits.REF_MAX),
    ]:
        assert f"{label} {value}" in doc, f"{label} {value}"
    assert " ".join(limits.EMOJIS) in doc
    assert "protocol.schema.json" in doc
