"""Fixtures of the security suite, and the figures it prints at the end of a run.

Each check records ``refused / tried`` with ``tally.add(...)``; the figures are printed in
pytest's terminal summary (they are the figures of docs/security.md).
"""

from __future__ import annotations

import pytest

# The live-protocol fixtures (real ASGI application, WebsocketCommunicator).
from tests.live.conftest import connect, live, live_meeting  # noqa: F401

_FIGURES: list[str] = []


class Tally:
    def add(self, what: str, refused: int, tried: int, note: str = "") -> None:
        line = f"{what}: refused {refused} / {tried}" + (f" ({note})" if note else "")
        _FIGURES.append(line)

    def note(self, line: str) -> None:
        _FIGURES.append(line)


@pytest.fixture
def tally() -> Tally:
    return Tally()


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("security figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
