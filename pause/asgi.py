"""ASGI entry point: HTTP through Django, WebSockets through Channels.

``get_asgi_application()`` runs first so the app registry is ready before the consumers
(and their models) are imported.

Then the garbage collector is tuned for a server that holds many sockets
(``tune_gc``): a full collection walks every object the process holds, and with a
thousand sockets that took 70-380 ms here, a pause every socket feels (it was what
bounded scenario B of docs/benchmarks.md, at a fraction of a core).
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from pause.origin import SameOriginValidator  # noqa: E402
from rooms.routing import PlainURLRouter, websocket_urlpatterns  # noqa: E402
from rooms.socket_auth import SocketCookieMiddleware  # noqa: E402


def tune_gc(thresholds) -> None:
    """Move what is loaded so far (Django, the apps, their modules: objects that live as
    long as the process) out of the collector's reach (``gc.freeze``), and collect less
    often (``PAUSE_GC_THRESHOLD``; empty: Python's own thresholds). Cycles among the
    sockets' objects are still collected, only in fewer, rarer passes."""
    gc.collect()
    gc.freeze()
    if thresholds:
        gc.set_threshold(*thresholds)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Cookies only: the meeting socket resolves the session with its participant in
        # one database call (rooms.socket_auth), not Channels' AuthMiddlewareStack.
        "websocket": SameOriginValidator(
            SocketCookieMiddleware(PlainURLRouter(websocket_urlpatterns))
        ),
    }
)

tune_gc(settings.PAUSE_GC_THRESHOLD)
