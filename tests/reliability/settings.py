"""Pause's settings with the live limits the fault tests make small (environment knobs),
so a slow client reaches them in a short burst."""

import os

from pause.settings import *  # noqa: F403

PAUSE_WS_SEND_QUEUE = int(os.environ.get("PAUSE_WS_SEND_QUEUE", "1000"))
PAUSE_WS_WRITE_HIGH_WATER = int(os.environ.get("PAUSE_WS_WRITE_HIGH_WATER", str(256 * 1024)))
