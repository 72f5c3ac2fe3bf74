from channels.routing import URLRouter
from django.urls import path
from django.urls.exceptions import Resolver404

from rooms.consumers import MeetingConsumer

websocket_urlpatterns = [
    path("ws/meetings/<int:meeting_id>/", MeetingConsumer.as_asgi()),
]


class PlainURLRouter(URLRouter):
    """Channels' ``URLRouter`` as a plain function that hands back the routed
    application's coroutine instead of awaiting it: no frame per open socket, and the
    scope it was given (with the cookies) is not kept alive for the socket's life."""

    def __call__(self, scope, receive, send):
        path = scope.get("path_remaining", scope.get("path", None))
        if path is None:
            raise ValueError("No 'path' key in connection scope, cannot route URLs")
        if "path_remaining" not in scope:
            root_path = scope.get("root_path", "")
            if root_path and not path.startswith(root_path):
                raise ValueError(f"No route found for path {path!r}.")
            path = path[len(root_path) :]
        path = path.lstrip("/")
        for route in self.routes:
            try:
                match = route.pattern.match(path)
            except Resolver404:
                continue
            if match:
                new_path, args, kwargs = match
                kwargs.update(route.default_args)
                outer = scope.get("url_route", {})
                url_route = {
                    "args": outer.get("args", ()) + args,
                    "kwargs": {**outer.get("kwargs", {}), **kwargs},
                }
                return route.callback(
                    dict(scope, path_remaining=new_path, url_route=url_route), receive, send
                )
        if "path_remaining" in scope:
            raise Resolver404(f"No route found for path {path!r}.")
        raise ValueError(f"No route found for path {path!r}.")
