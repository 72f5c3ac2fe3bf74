from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# psycopg parses a query's placeholders once and caches the result, but only for queries
# of at most 4,096 characters and 50 parameters: the write path's multi-statement scripts
# (``rooms.services.rows``) and multi-row inserts are longer, and were parsed again on
# every batch, about a fifth of a post's CPU. Their shapes repeat (one per batch size),
# so the cache (128 entries) serves them too with these bounds.
PSYCOPG_CACHED_STATEMENT_LENGTH = 32_768
PSYCOPG_CACHED_STATEMENT_PARAMS = 2_000


def cache_long_statements() -> None:
    try:
        from psycopg import _queries
    except ImportError:  # SQLite only
        return
    _queries.MAX_CACHED_STATEMENT_LENGTH = max(
        _queries.MAX_CACHED_STATEMENT_LENGTH, PSYCOPG_CACHED_STATEMENT_LENGTH
    )
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(
        _queries.MAX_CACHED_STATEMENT_PARAMS, PSYCOPG_CACHED_STATEMENT_PARAMS
    )


class RoomsConfig(AppConfig):
    name = "rooms"
    verbose_name = _("Rooms and meetings")

    def ready(self):
        from rooms import signals  # noqa: F401

        cache_long_statements()
