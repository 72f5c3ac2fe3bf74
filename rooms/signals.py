"""Logging out over HTTP closes that user's open sockets (every process hears it)."""

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from rooms.broadcast import close_sockets


@receiver(user_logged_out)
def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None:
        close_sockets(user_id=user.pk, reason="logged_out")
