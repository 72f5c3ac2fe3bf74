"""Exports of a meeting's summary: Markdown, CSV and JSON.

Each export is rendered from the summary *as the requesting member may see it*
(``rooms.archive_policy.summary_for``), so consent and anonymity hold exactly as on the
page. Authors appear by name only (no internal ids).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from rooms.summaries import _parse, summary_display

FORMATS = {
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
}
CSV_COLUMNS = (
    "record",
    "id",
    "challenge_id",
    "challenge",
    "parent_id",
    "kind",
    "rank",
    "text",
    "author",
    "votes",
    "reactions",
    "cluster",
    "due_date",
    "status",
    "status_note",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _name(person: dict | None) -> str:
    return person["name"] if person else ""


def export(data: dict, fmt: str) -> tuple[str, str]:
    """The export body and its content type; ``data`` is a viewer's summary."""
    render = {"md": to_markdown, "csv": to_csv, "json": to_json}[fmt]
    return render(data), FORMATS[fmt]


def local_day(value) -> str:
    """The day of a stored instant (ISO text or datetime) in the site's time zone, as the
    pages show it: a meeting at 00:30 in Paris is on that day, not on UTC's eve."""
    if isinstance(value, str):
        value = _parse(value)
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = timezone.localdate(value)
    elif isinstance(value, dt.datetime):
        value = value.date()
    return value.isoformat() if value else ""


def filename(data: dict, fmt: str) -> str:
    meeting = data["meeting"]
    day = local_day(meeting.get("scheduled_at"))
    stem = slugify(f"{meeting['title']} {day}") or f"meeting-{meeting['id']}"
    return f"{stem}.{fmt}"


# --------------------------------------------------------------------------- JSON


def _public(data: dict) -> dict:
    """The viewer's summary with authors reduced to their names."""

    def person(p):
        return {"name": p["name"]} if p else None

    out = json.loads(json.dumps(data))
    out.pop("viewer", None)
    for ch in out["challenges"]:
        ch["owner"] = person(ch["owner"])
        for idea in ch["ideas"] + ch["questions"]:
            idea["author"] = person(idea["author"])
            for reply in idea["replies"]:
                reply["author"] = person(reply["author"])
        for action in ch["actions"]:
            action["owner"] = person(action["owner"])
    for takeaway in out["takeaways"]:
        takeaway["author"] = person(takeaway["author"])
    out["participants"] = [
        {"name": p["name"], "guest": p["guest"]} for p in out.get("participants", [])
    ]
    return out


def to_json(data: dict) -> str:
    return json.dumps(_public(data), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# --------------------------------------------------------------------------- CSV


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_rows(data: dict):
    """One row per idea (or question), reply, action and takeaway."""
    for ch in data["challenges"]:
        clusters = {c["id"]: c["name"] for c in ch["clusters"]}
        for idea in ch["ideas"] + ch["questions"]:
            reactions = " ".join(f"{e}{n}" for e, n in idea["reactions"].items())
            yield {
                "record": "idea",
                "id": idea["id"],
                "challenge_id": ch["id"],
                "challenge": ch["title"],
                "kind": idea["kind"],
                "rank": idea["rank"],
                "text": idea["text"],
                "author": _name(idea["author"]),
                "votes": idea["votes"],
                "reactions": reactions,
                "cluster": clusters.get(idea["cluster_id"], ""),
            }
            for reply in idea["replies"]:
                yield {
                    "record": "reply",
                    "id": reply["id"],
                    "challenge_id": ch["id"],
                    "challenge": ch["title"],
                    "parent_id": idea["id"],
                    "text": reply["text"],
                    "author": _name(reply["author"]),
                }
        for action in ch["actions"]:
            yield {
                "record": "action",
                "id": action["id"],
                "challenge_id": ch["id"],
                "challenge": ch["title"],
                "parent_id": " ".join(str(i) for i in action["idea_ids"]),
                "text": action["text"],
                "author": _name(action["owner"]),
                "due_date": action["due_date"] or "",
                "status": action["status"],
                "status_note": action["status_note"],
            }
    for takeaway in data["takeaways"]:
        yield {
            "record": "takeaway",
            "id": takeaway["id"],
            "text": takeaway["text"],
            "author": _name(takeaway["author"]),
        }


def to_csv(data: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(data):
        writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    return out.getvalue()


# --------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    """User text as Markdown text: no HTML, no accidental headings or links."""
    escaped = text.replace("\\", "\\\\")
    for ch in "`*_[]<>#|":
        escaped = escaped.replace(ch, "\\" + ch)
    return " ".join(escaped.split())


def _md_block(text: str) -> str:
    """The facilitators' text keeps its paragraphs and Markdown emphasis, lists and
    headings, but no raw HTML and no link or image syntax: a renderer that does not filter
    link targets would run ``[text](javascript:…)`` on a click. Bare web addresses are
    still linked by renderers that autolink them."""
    text = text.strip().replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("[", "\\[").replace("]", "\\]")


def _by(person: dict | None) -> str:
    return f" — {_md(person['name'])}" if person else ""


def to_markdown(data: dict) -> str:
    s = summary_display(data)
    m = s["meeting"]
    f = s["figures"]
    lines = [f"# {_md(m['title'])}", ""]
    if m["scheduled_at"]:
        lines += [_("Date: %(date)s") % {"date": local_day(m["scheduled_at"])}, ""]
    if s.get("intro"):
        lines += [_md_block(s["intro"]), ""]
    lines += [
        "## " + _("Figures"),
        "",
        "- " + _("Duration: %(n)s min") % {"n": f["duration_minutes"] or 0},
        "- " + _("Participants: %(n)s") % {"n": f["participants"]},
        "- " + _("Ideas: %(n)s") % {"n": f["ideas"]},
        "- " + _("Questions: %(n)s") % {"n": f["questions"]},
        "- " + _("Votes: %(n)s") % {"n": f["votes"]},
        "",
    ]
    for ch in s["challenges"]:
        lines += [f"## {_md(ch['title'])}", ""]
        if ch["owner"]:
            lines += [_("Owner: %(name)s") % {"name": _md(ch["owner"]["name"])}, ""]
        if ch["ask"]:
            lines += [_("Help wanted: %(ask)s") % {"ask": _md(ch["ask"])}, ""]
        counts = ch["counts"]
        lines += [
            _("%(ideas)s ideas, %(questions)s questions, %(votes)s votes")
            % {
                "ideas": counts["ideas"],
                "questions": counts["questions"],
                "votes": counts["votes"],
            },
            "",
        ]
        if not ch["access"]["texts"]:
            lines += ["_" + _("The owner of this challenge keeps only its summary.") + "_", ""]
        if ch["ideas"]:
            lines += ["### " + _("Ideas"), ""]
            lines += _md_ideas(ch["ideas"])
        if ch["questions"]:
            lines += ["### " + _("Questions"), ""]
            lines += _md_ideas(ch["questions"])
        clusters = [c for c in ch["clusters"] if c["ideas"]]
        if clusters:
            lines += ["### " + _("Themes"), ""]
            for cluster in clusters:
                ids = ", ".join(f"#{i['id']}" for i in cluster["ideas"])
                lines.append(f"- **{_md(cluster['name'])}**: {ids}")
            lines.append("")
        if ch["actions"]:
            lines += ["### " + _("Actions"), ""]
            for a in ch["actions"]:
                due = (
                    " " + _("(due %(date)s)") % {"date": a["due_date"].isoformat()}
                    if a["due_date"]
                    else ""
                )
                note = f" — {_md(a['status_note'])}" if a["status_note"] else ""
                lines.append(
                    f"- [{'x' if a['status'] == 'done' else ' '}] {_md(a['text'])}"
                    f"{_by(a['owner'])}{due} · {a['status_label']}{note}"
                )
            lines.append("")
    if s["takeaways"]:
        lines += ["## " + _("Takeaways"), ""]
        lines += [f"- {_md(t['text'])}{_by(t['author'])}" for t in s["takeaways"]]
        lines.append("")
    if s.get("conclusion"):
        lines += ["## " + _("Conclusion"), "", _md_block(s["conclusion"]), ""]
    return "\n".join(lines)


def _md_ideas(ideas: list[dict]) -> list[str]:
    lines = []
    for idea in ideas:
        votes = _("%(n)s votes") % {"n": idea["votes"]}
        reactions = " ".join(f"{e} {n}" for e, n in idea["reactions"].items())
        extra = f" · {reactions}" if reactions else ""
        lines.append(
            f"{idea['rank']}. {_md(idea['text'])}{_by(idea['author'])} ({votes}{extra})"
            f" [#{idea['id']}]"
        )
        for reply in idea["replies"]:
            lines.append(f"    - {_md(reply['text'])}{_by(reply['author'])}")
        for a in idea.get("actions", []):
            lines.append(
                "    - "
                + _("→ action: %(text)s (%(status)s)")
                % {"text": _md(a["text"]), "status": a["status_label"]}
            )
    lines.append("")
    return lines
