"""``{% vite_assets "src/main.tsx" %}``: the script and style tags of a Vite entry.

In production the tags point at the hashed files of ``frontend/dist`` (served as static
files under ``board/``), read from Vite's manifest. When ``settings.PAUSE_VITE_DEV`` is
set (``make dev``), they point at Vite's dev server for hot reload. Every script carries
the request's CSP nonce.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

STATIC_PREFIX = "board/"


class ViteManifestError(RuntimeError):
    pass


def _manifest_path() -> Path:
    return Path(settings.FRONTEND_DIST) / ".vite" / "manifest.json"


@lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def manifest() -> dict:
    """Vite's manifest, re-read when the file changes (a rebuild while the server runs)."""
    path = _manifest_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError as e:
        raise ViteManifestError(
            f"{path} is missing: build the board with `cd frontend && npm ci && npm run build`"
            " (or `make frontend`)."
        ) from e
    return _load(str(path), mtime)


def _chunk_files(data: dict, entry: str) -> tuple[str, list[str], list[str]]:
    """The entry's JS file, every CSS file it needs and the JS chunks it imports."""
    if entry not in data:
        raise ViteManifestError(f"{entry!r} is not an entry of the Vite manifest.")
    css: list[str] = []
    imports: list[str] = []
    seen: set[str] = set()

    def walk(key: str, top: bool) -> None:
        if key in seen:
            return
        seen.add(key)
        chunk = data[key]
        for name in chunk.get("css", []):
            if name not in css:
                css.append(name)
        if not top:
            imports.append(chunk["file"])
        for sub in chunk.get("imports", []):
            walk(sub, False)

    walk(entry, True)
    return data[entry]["file"], css, imports


@register.simple_tag(takes_context=True)
def vite_assets(context, entry: str) -> SafeString:
    """The <link> and <script type="module"> tags that load ``entry``."""
    nonce = context.get("csp_nonce", "")
    dev = getattr(settings, "PAUSE_VITE_DEV", "")
    if dev:
        base = dev.rstrip("/") + "/static/" + STATIC_PREFIX
        return format_html_join(
            "\n",
            '<script type="module" src="{}" nonce="{}"></script>',
            [(base + "@vite/client", nonce), (base + entry, nonce)],
        )
    js, css, imports = _chunk_files(manifest(), entry)
    tags = [
        format_html('<link rel="stylesheet" href="{}">', static(STATIC_PREFIX + name))
        for name in css
    ]
    tags += [
        format_html('<link rel="modulepreload" href="{}">', static(STATIC_PREFIX + name))
        for name in imports
    ]
    tags.append(
        format_html(
            '<script type="module" src="{}" nonce="{}"></script>',
            static(STATIC_PREFIX + js),
            nonce,
        )
    )
    return mark_safe("\n".join(tags))  # noqa: S308 (every part went through format_html)
