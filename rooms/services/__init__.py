"""Every write of Pause, one function each (DESIGN.md section 3). Callers write
``from rooms import services`` and ``services.idea_post(...)``."""

from rooms.services.archive import *  # noqa: F403
from rooms.services.guests import *  # noqa: F403
from rooms.services.meetings import *  # noqa: F403
from rooms.services.meetings import Outcome, command_execute, participant_join  # noqa: F401
from rooms.services.rooms import *  # noqa: F403
