"""ASGI entry point: HTTP through Django, WebSockets through Channels.

``get_asgi_application()`` runs first so the app registry is ready before the consumers
(and their models) are imported.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pause.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from pause.origin import SameOriginValidator  # noqa: E402
from rooms.routing import PlainURLRouter, websocket_urlpatterns  # noqa: E402
from rooms.socket_auth import SocketCookieMiddleware  # noqa: E402

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
