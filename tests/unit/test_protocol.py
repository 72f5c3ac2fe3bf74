"""The protocol's code, its committed JSON Schema and the services cannot drift apart."""

import ast
import inspect
from pathlib import Path

import pytest
from django.conf import settings
from pydantic import ValidationError

from rooms import protocol
from rooms.management.commands.protocol_schema import schema_text
from rooms.protocol import COMMAND_TYPES, EVENT_DATA, client_frame_adapter, server_frame_adapter
from rooms.services import meetings


def test_committed_schema_equals_the_generated_one():
    """docs/protocol.schema.json is exactly what rooms.protocol generates (run
    ``manage.py protocol_schema`` after changing the protocol)."""
    committed = (Path(settings.BASE_DIR) / "docs" / "protocol.schema.json").read_text()
    assert committed == schema_text()


def test_every_command_has_a_service_and_every_service_a_command():
    """A command the protocol declares is always executable, and no service is unreachable."""
    assert set(COMMAND_TYPES) == set(meetings.SERVICES)
    for name, service in meetings.SERVICES.items():
        assert service.command == name


def test_every_command_field_is_an_argument_of_its_service():
    """``command_execute`` passes the command's fields as keyword arguments: each field
    must exist in the service's signature."""
    for name, model in COMMAND_TYPES.items():
        fields = set(model.model_fields) - {"type", "ref"}
        params = set(inspect.signature(inspect.unwrap(meetings.SERVICES[name])).parameters)
        assert fields <= params - {"ctx"}, (name, fields - params)


def _emitted_names() -> set[str]:
    """Every literal event name the service module passes to ``emit``/``emit_meeting``."""
    tree = ast.parse(Path(meetings.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("emit", "emit_meeting")
        ):
            first = node.args[0]
            if isinstance(first, ast.Name) and first.id == "name":
                continue  # Ctx.emit_meeting forwarding its own argument
            assert isinstance(first, ast.Constant), ast.dump(node)
            names.add(first.value)
    return names


def test_every_event_a_service_emits_is_declared():
    """No service emits an event the protocol (and so the client) does not know; no
    declared event is dead."""
    emitted = _emitted_names()
    assert emitted, "the parser found no emit() call"
    assert emitted <= set(EVENT_DATA), emitted - set(EVENT_DATA)
    assert set(EVENT_DATA) <= emitted, set(EVENT_DATA) - emitted


def test_every_server_frame_kind_is_in_the_server_union():
    """An event frame per event name, and each of welcome/resync/ack/error/presence/closing,
    validates against ``server_frame_adapter``."""
    assert set(protocol.EVENT_FRAMES) == set(EVENT_DATA)
    ack = {"type": "ack", "ref": "r1", "seq": 3, "result": {"id": 1}}
    assert server_frame_adapter.validate_python(ack).type == "ack"
    with pytest.raises(ValidationError):
        server_frame_adapter.validate_python({**ack, "unexpected": 1})
    error = {"type": "error", "ref": None, "code": "nope", "message": "x", "field": None}
    with pytest.raises(ValidationError):
        server_frame_adapter.validate_python(error)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "idea.post", "ref": "a", "challenge_id": 1}, "text"),
        ({"type": "idea.post", "ref": "a", "challenge_id": "x", "text": "t"}, "challenge_id"),
        ({"type": "idea.post", "ref": "a", "challenge_id": 1, "text": "t", "x": 1}, "x"),
        ({"type": "idea.post", "ref": "a", "challenge_id": 1, "text": "   "}, "text"),
        ({"type": "idea.post", "ref": "a b", "challenge_id": 1, "text": "t"}, "ref"),
        ({"type": "idea.post", "ref": "a", "challenge_id": 2**60, "text": "t"}, "challenge_id"),
        ({"type": "reaction.toggle", "ref": "a", "idea_id": 1, "emoji": "💩"}, "emoji"),
        ({"type": "timer.start", "ref": "a", "seconds": 0}, "seconds"),
        ({"type": "meeting.settings", "ref": "a", "vote_budget": 51}, "vote_budget"),
    ],
)
def test_bad_commands_are_refused_by_the_schema(frame, field):
    """Missing, mistyped, extra, blank, out-of-range and unknown values are all refused,
    and the error's location names the field."""
    with pytest.raises(ValidationError) as e:
        client_frame_adapter.validate_python(frame)
    locs = [".".join(str(p) for p in err["loc"][1:]) for err in e.value.errors()]
    assert field in locs, locs


def test_text_fields_have_a_maximum_length():
    """Every string a client can send is bounded (the JSON Schema says so too)."""
    schema = protocol.json_schema()

    def strings(node, path):
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node and "const" not in node:
                yield path, node
            for k, v in node.items():
                yield from strings(v, (*path, k))
        elif isinstance(node, list):
            for n, v in enumerate(node):
                yield from strings(v, (*path, n))

    client_defs = {
        name: d
        for name, d in schema["$defs"].items()
        if name in {m.__name__ for m in COMMAND_TYPES.values()}
    }
    unbounded = [
        path
        for path, node in strings(client_defs, ())
        if "maxLength" not in node and node.get("format") != "date"
    ]
    assert unbounded == []
