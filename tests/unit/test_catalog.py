"""The translations are complete: the French Django catalog has no untranslated or fuzzy
entry and keeps every placeholder, and the board's French and English dictionaries
(frontend/src/i18n.ts) have the same keys and placeholders.

The .po file is read with a small parser (no polib dependency): entries are separated by
blank lines, strings are quoted and may continue on the following lines."""

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRENCH_PO = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
BOARD_I18N = ROOT / "frontend" / "src" / "i18n.ts"

# printf-style conversions as Python's % operator reads them; "%%" is a literal percent.
PYTHON_FORMAT = re.compile(
    r"%(?:\((?P<name>\w+)\))?[#0 +-]*(?:\*|\d+)?(?:\.\d+)?(?P<conv>[a-zA-Z%])"
)
BRACE_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Words spelt alike in French and English, so a French string may equal the English one.
SAME_IN_BOTH = {
    "vote",
    "votes",
    "question",
    "questions",
    "pause",
    "minutes",
    "min",
    "action",
    "actions",
    "format",
    "date",
    "message",
}


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    def __str__(self):
        return f"line {self.line}: {self.msgid!r}"


def _unquote(token: str) -> str:
    return ast.literal_eval(token)


def parse_po(text: str) -> list[Entry]:
    """The entries of a .po file, header included (msgid ""), obsolete ones (#~) left out."""
    entries = []
    for start, block in _blocks(text):
        entry = Entry(line=start)
        current: tuple[str, int | None] | None = None
        for raw in block:
            line = raw.strip()
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#") or not line:
                current = None
            elif line.startswith('"') and current is not None:
                _append(entry, current, _unquote(line))
            else:
                keyword, _, rest = line.partition(" ")
                match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
                if match:
                    current = ("msgstr", int(match.group(1)))
                elif keyword in ("msgid", "msgid_plural", "msgstr", "msgctxt"):
                    current = (keyword, None)
                else:
                    raise AssertionError(f"line {start}: cannot read {raw!r}")
                _set(entry, current, _unquote(rest))
        if any(not raw.startswith("#") for raw in block):
            entries.append(entry)
    return entries


def _blocks(text: str):
    block, start = [], 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not block:
                start = number
            if not line.startswith("#~"):
                block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


def _set(entry: Entry, target: tuple[str, int | None], value: str) -> None:
    keyword, index = target
    if keyword == "msgstr":
        entry.msgstr[index or 0] = value
    elif keyword == "msgid":
        entry.msgid = value
    elif keyword == "msgid_plural":
        entry.msgid_plural = value


def _append(entry: Entry, target: tuple[str, int | None], value: str) -> None:
    keyword, index = target
    if keyword == "msgstr":
        entry.msgstr[index or 0] += value
    elif keyword == "msgid":
        entry.msgid += value
    elif keyword == "msgid_plural":
        entry.msgid_plural = (entry.msgid_plural or "") + value


def python_placeholders(text: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The named placeholders (as a set) and the positional conversions (in order)."""
    named, positional = set(), []
    for match in PYTHON_FORMAT.finditer(text):
        if match.group("conv") == "%":
            continue
        if match.group("name"):
            named.add(f"%({match.group('name')}){match.group('conv')}")
        else:
            positional.append(f"%{match.group('conv')}")
    return frozenset(named), tuple(positional)


def nplurals(entries: list[Entry]) -> int:
    header = next(e for e in entries if e.msgid == "")
    match = re.search(r"nplurals\s*=\s*(\d+)", header.msgstr.get(0, ""))
    assert match, "The header of the French catalog has no Plural-Forms"
    return int(match.group(1))


@pytest.fixture(scope="module")
def french_entries() -> list[Entry]:
    return parse_po(FRENCH_PO.read_text(encoding="utf-8"))


def test_parser_reads_wrapped_plural_and_fuzzy_entries():
    """The .po reader joins continued lines, reads plural forms and flags, skips obsolete ones."""
    sample = (
        'msgid ""\nmsgstr ""\n"Plural-Forms: nplurals=2; plural=(n > 1);\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid ""\n"Hello "\n"%(name)s"\n'
        'msgstr "Bonjour \\"%(name)s\\""\n\n'
        'msgid "%(n)s idea"\nmsgid_plural "%(n)s ideas"\nmsgstr[0] "%(n)s idée"\n'
        'msgstr[1] ""\n\n#~ msgid "Old"\n#~ msgstr "Vieux"\n'
    )
    header, fuzzy, plural = parse_po(sample)
    assert nplurals([header]) == 2
    assert fuzzy.msgid == "Hello %(name)s" and fuzzy.msgstr == {0: 'Bonjour "%(name)s"'}
    assert {"fuzzy", "python-format"} <= fuzzy.flags
    assert plural.msgid_plural == "%(n)s ideas" and plural.msgstr == {0: "%(n)s idée", 1: ""}


def test_placeholder_reader():
    """Named placeholders are a set, positional ones a sequence, and %% is not one."""
    assert python_placeholders("%(a)s et %(b)d, %(a)s, 100 %%") == (
        frozenset({"%(a)s", "%(b)d"}),
        (),
    )
    assert python_placeholders("%s de %d") == (frozenset(), ("%s", "%d"))


def test_french_catalog_is_read(french_entries):
    """The French catalog holds the project's strings, and the reader sees their French."""
    translations = {e.msgid: e.msgstr.get(0) for e in french_entries}
    assert len(translations) > 100
    assert translations["room"] == "salon"


def test_every_french_entry_is_translated(french_entries):
    """No entry of the French catalog is left with an empty msgstr or a missing plural form."""
    forms = nplurals(french_entries)
    untranslated = []
    for entry in french_entries:
        if entry.msgid == "":
            continue
        expected = range(forms) if entry.msgid_plural is not None else range(1)
        if any(not entry.msgstr.get(index) for index in expected):
            untranslated.append(str(entry))
    assert not untranslated, "Untranslated in French:\n" + "\n".join(untranslated)


def test_no_french_entry_is_fuzzy(french_entries):
    """No entry of the French catalog is flagged fuzzy (gettext would ignore it)."""
    fuzzy = [str(e) for e in french_entries if e.msgid and "fuzzy" in e.flags]
    assert not fuzzy, "Fuzzy in French (check, fix, remove the flag):\n" + "\n".join(fuzzy)


def test_french_keeps_python_placeholders(french_entries):
    """Every translation keeps the placeholders of its English string: the same named
    ones (a French singular may leave out the count) and the same positional ones."""
    wrong = []
    for entry in french_entries:
        if not entry.msgid:
            continue
        source = python_placeholders(entry.msgid)
        plural = python_placeholders(entry.msgid_plural) if entry.msgid_plural else None
        if "python-format" not in entry.flags and not (source[0] or source[1]):
            continue
        for index, text in entry.msgstr.items():
            if not text:
                continue
            named, positional = python_placeholders(text)
            if plural is None:
                ok = (named, positional) == source
            else:
                allowed = source[0] | plural[0]
                ok = named <= allowed and (index == 0 or named == plural[0])
            if not ok:
                wrong.append(f"{entry} -> msgstr[{index}] {text!r}")
    assert not wrong, "Placeholders differ from the English:\n" + "\n".join(wrong)


def board_dictionary(source: str, name: str) -> dict[str, str]:
    """The entries of ``const <name>... = { key: "text", ... };`` in frontend/src/i18n.ts."""
    match = re.search(rf"^const {name}\b[^=]*=\s*\{{(?P<body>.*?)^\}};", source, re.S | re.M)
    assert match, f"No `const {name} = {{...}};` in {BOARD_I18N}"
    pairs = re.findall(
        r'^\s*(?:"([^"]+)"|([A-Za-z_$][\w$]*))\s*:\s*"((?:[^"\\]|\\.)*)"\s*,?\s*$',
        match.group("body"),
        re.M,
    )
    keys = [quoted or bare for quoted, bare, _ in pairs]
    assert len(keys) == len(set(keys)), f"A key appears twice in `{name}`"
    declared = re.findall(r"^\s*(?:\"[^\"]+\"|[A-Za-z_$][\w$]*)\s*:", match.group("body"), re.M)
    assert len(declared) == len(pairs), f"Some entries of `{name}` are not one-line strings"
    return {quoted or bare: text for quoted, bare, text in pairs}


@pytest.fixture(scope="module")
def board_dictionaries() -> tuple[dict[str, str], dict[str, str]]:
    source = BOARD_I18N.read_text(encoding="utf-8")
    return board_dictionary(source, "en"), board_dictionary(source, "fr")


def test_board_dictionaries_have_the_same_keys(board_dictionaries):
    """The board's English and French dictionaries declare exactly the same keys."""
    en, fr = board_dictionaries
    assert len(en) > 20
    assert sorted(set(en) - set(fr)) == [], "Missing in French"
    assert sorted(set(fr) - set(en)) == [], "Missing in English"


def test_board_dictionaries_keep_placeholders(board_dictionaries):
    """Each French board string uses the same {placeholders} as its English one."""
    en, fr = board_dictionaries
    wrong = {
        key: (en[key], fr[key])
        for key in en.keys() & fr.keys()
        if set(BRACE_PLACEHOLDER.findall(en[key])) != set(BRACE_PLACEHOLDER.findall(fr[key]))
    }
    assert not wrong, f"Placeholders differ: {wrong}"


def test_board_french_strings_are_not_left_in_english(board_dictionaries):
    """A French board string is not a copy of the English one, unless every word of it is
    the same in both languages ("Vote", "{count} votes")."""
    en, fr = board_dictionaries
    copied = sorted(
        key
        for key in en.keys() & fr.keys()
        if fr[key] == en[key]
        and not set(re.findall(r"[a-z]+", BRACE_PLACEHOLDER.sub("", en[key]).lower()))
        <= SAME_IN_BOTH
    )
    assert not copied, f"Still in English in the French board dictionary: {copied}"
