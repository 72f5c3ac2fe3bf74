"""Small presentation helpers for the templates (avatars, URL guards)."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

AVATAR_TONES = 6


@register.filter
def initials(name: str) -> str:
    """'Claire Martin' → 'CM'; 'ines' → 'I'."""
    words = [w for w in str(name or "").replace("-", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


@register.filter
def tone(value) -> int:
    """A stable avatar colour (0..5) from an id."""
    try:
        return int(value) % AVATAR_TONES
    except (TypeError, ValueError):
        return 0


@register.simple_tag
def optional_url(name: str, *args) -> str:
    """The URL of ``name``, or '' when no such URL is installed (e.g. a later feature)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""
