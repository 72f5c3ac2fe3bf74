"""Write the live protocol's JSON Schema (docs/protocol.schema.json) from rooms/protocol.py."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from rooms.protocol import json_schema

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "protocol.schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write docs/protocol.schema.json from rooms/protocol.py (--check: fail if it differs)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, check=False, **options):
        text = schema_text()
        if check:
            if not SCHEMA_PATH.exists() or SCHEMA_PATH.read_text() != text:
                raise SystemExit(
                    "docs/protocol.schema.json is out of date: run manage.py protocol_schema"
                )
            return
        SCHEMA_PATH.write_text(text)
        self.stdout.write(f"wrote {SCHEMA_PATH}")
