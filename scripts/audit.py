#!/usr/bin/env python3
"""Offline dependency audit against the committed advisory snapshot.

Reads the OSV-format records in ``security/advisories/`` (``pypi.json``, ``npm.json``) and
checks (a) the Python packages installed in the running interpreter's environment, or the
pins of a requirements file (``-r``), and (b) every package of an npm lockfile
(``frontend/package-lock.json`` unless ``--npm-lock`` names another). Prints one line per
finding (package, version, advisory, fixed in) and exits 1 when there is any, 0 when there
is none. ``--json`` prints a machine-readable report instead.

    .venv/bin/python scripts/audit.py                        # installed set + board lock
    .venv/bin/python scripts/audit.py -r requirements.txt    # the pins instead
    .venv/bin/python scripts/audit.py --no-npm --json

Needs only the standard library and ``packaging``. OSV semantics: a range's events are
sorted by version; ``introduced`` opens an affected span, ``fixed`` closes it (exclusive),
``last_affected`` closes it after that version (inclusive); ``"0"`` is below every version.
A version listed in an advisory's ``versions`` is affected whatever the ranges say. Ranges
of type ``GIT`` cannot be evaluated against a version number and are ignored; withdrawn
advisories are skipped. PyPI versions compare by PEP 440, npm versions by SemVer 2.0.0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import total_ordering
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
ADVISORIES = ROOT / "security" / "advisories"
NPM_LOCK = ROOT / "frontend" / "package-lock.json"

# --------------------------------------------------------------------------- versions

_SEMVER = re.compile(
    r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$",
)


@total_ordering
class SemVer:
    """A SemVer 2.0.0 version: prereleases sort before their release, identifiers compare
    numerically when numeric, numeric ones before alphanumeric ones, and a shorter list of
    identifiers first when it is a prefix of the other (1.0.0-alpha < 1.0.0-alpha.1)."""

    def __init__(self, text: str) -> None:
        match = _SEMVER.match(text.strip())
        if match is None:
            raise ValueError(f"not a SemVer version: {text!r}")
        major, minor, patch, pre = match.groups()
        self.text = text
        self.release = (int(major), int(minor), int(patch))
        self.pre: tuple[tuple[int, int | str], ...] = (
            tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
        )

    def _key(self) -> tuple:
        # A release sorts after any of its prereleases: (1,) > (0, ...).
        return (self.release, (1,) if not self.pre else (0, self.pre))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"SemVer({self.text!r})"


PARSERS: dict[str, Callable[[str], Any]] = {"PyPI": Version, "npm": SemVer}


def _parse(ecosystem: str, text: str) -> Any:
    """A comparable version, or None for OSV's ``"0"`` (below every version)."""
    return None if text == "0" else PARSERS[ecosystem](text)


# --------------------------------------------------------------------------- ranges


def in_range(version: Any, events: list[dict[str, str]], ecosystem: str) -> tuple[bool, str | None]:
    """Whether ``version`` (parsed) falls in one OSV range, and the fix that closes the
    span it is in (None when no later ``fixed`` event exists)."""
    parsed: list[tuple[Any, str, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected"):
            if kind in event:
                try:
                    parsed.append((_parse(ecosystem, event[kind]), kind, event[kind]))
                except (InvalidVersion, ValueError):
                    continue  # an event we cannot read cannot open or close a span
    parsed.sort(key=lambda item: (0,) if item[0] is None else (1, item[0]))
    affected = False
    fixed_in: str | None = None
    for bound, kind, text in parsed:
        reached = bound is None or version >= bound
        passed = reached and (kind != "last_affected" or version != bound)
        if passed:
            affected = kind == "introduced"  # fixed is exclusive, last_affected inclusive
        elif kind == "fixed" and affected and fixed_in is None:
            fixed_in = text  # the first fix above the version, while inside a span
    return affected, (fixed_in if affected else None)


def affects(advisory: dict[str, Any], version_text: str) -> tuple[bool, str | None]:
    """Whether an advisory applies to one version of its package, and where it is fixed."""
    ecosystem = advisory["ecosystem"]
    if version_text in advisory.get("versions", ()):
        return True, _first_fix_above(advisory, version_text)
    try:
        version = PARSERS[ecosystem](version_text)
    except (InvalidVersion, ValueError):
        return False, None  # only an exact `versions` entry can match an unreadable version
    for osv_range in advisory.get("ranges", ()):
        if osv_range.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue  # GIT ranges name commits, not versions
        hit, fixed_in = in_range(version, osv_range.get("events", []), ecosystem)
        if hit:
            return True, fixed_in
    return False, None


def _first_fix_above(advisory: dict[str, Any], version_text: str) -> str | None:
    try:
        version = PARSERS[advisory["ecosystem"]](version_text)
    except (InvalidVersion, ValueError):
        return None
    fixes = []
    for fix in advisory.get("fixed", ()):
        try:
            bound = _parse(advisory["ecosystem"], fix)
        except (InvalidVersion, ValueError):
            continue
        if bound is not None and bound > version:
            fixes.append((bound, fix))
    return min(fixes)[1] if fixes else None


# --------------------------------------------------------------------------- inputs


def installed_python() -> dict[str, str]:
    """Every distribution of the running interpreter's environment."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[canonicalize_name(name)] = dist.version
    return found


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*===?\s*([^\s;#\\]+)")


def requirements_pins(path: Path) -> tuple[dict[str, str], list[str]]:
    """``name==version`` pins of a requirements file, and the lines that are not pins."""
    pins: dict[str, str] = {}
    unpinned: list[str] = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", "--")):
            continue
        match = _PIN.match(line)
        if match:
            pins[canonicalize_name(match.group(1))] = match.group(3)
        else:
            unpinned.append(line)
    return pins, unpinned


def npm_lock_packages(path: Path) -> set[tuple[str, str]]:
    """Every (name, version) installed by an npm lockfile (v2/v3 ``packages``, or v1
    ``dependencies``), nested copies included, workspace links and the root excluded."""
    lock = json.loads(path.read_text())
    found: set[tuple[str, str]] = set()
    if "packages" in lock:
        for key, entry in lock["packages"].items():
            if not key or entry.get("link") or "version" not in entry:
                continue
            name = entry.get("name") or key.rsplit("node_modules/", 1)[-1]
            found.add((name, entry["version"]))
        return found

    def walk(deps: dict[str, Any]) -> None:
        for name, entry in deps.items():
            if "version" in entry and not str(entry["version"]).startswith("file:"):
                found.add((name, entry["version"]))
            walk(entry.get("dependencies", {}))

    walk(lock.get("dependencies", {}))
    return found


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class Finding:
    ecosystem: str
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed_in: str | None
    summary: str


@dataclass
class Snapshot:
    ecosystem: str
    snapshot_date: str
    advisories: list[dict[str, Any]]

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        data = json.loads(path.read_text())
        return cls(data["ecosystem"], data["snapshot_date"], data["advisories"])

    def key(self, name: str) -> str:
        return canonicalize_name(name) if self.ecosystem == "PyPI" else name

    def by_package(self) -> dict[str, list[dict[str, Any]]]:
        index: dict[str, list[dict[str, Any]]] = {}
        for advisory in self.advisories:
            if advisory.get("withdrawn"):
                continue
            index.setdefault(self.key(advisory["package"]), []).append(advisory)
        return index


def audit(snapshot: Snapshot, packages: Iterable[tuple[str, str]]) -> list[Finding]:
    index = snapshot.by_package()
    findings = []
    for name, version in sorted(set(packages)):
        for advisory in index.get(snapshot.key(name), ()):
            hit, fixed_in = affects(advisory, version)
            if hit:
                findings.append(
                    Finding(
                        snapshot.ecosystem,
                        name,
                        version,
                        advisory["id"],
                        tuple(advisory.get("aliases", ())),
                        fixed_in,
                        advisory.get("summary", ""),
                    )
                )
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-r", "--requirement", type=Path, help="audit these pins, not the venv")
    parser.add_argument("--npm-lock", type=Path, default=NPM_LOCK, help="npm lockfile to audit")
    parser.add_argument("--no-python", action="store_true", help="skip the Python packages")
    parser.add_argument("--no-npm", action="store_true", help="skip the npm lockfile")
    parser.add_argument("--advisories", type=Path, default=ADVISORIES, help="snapshot folder")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    args = parser.parse_args(argv)

    report: dict[str, Any] = {"snapshots": {}, "audited": {}, "advisories": 0, "warnings": []}
    findings: list[Finding] = []
    jobs: list[tuple[str, Callable[[], Iterable[tuple[str, str]]]]] = []
    if not args.no_python:
        if args.requirement:
            pins, unpinned = requirements_pins(args.requirement)
            report["warnings"] += [f"not a pin, not audited: {line}" for line in unpinned]
            jobs.append(("pypi.json", lambda: pins.items()))
        else:
            jobs.append(("pypi.json", lambda: installed_python().items()))
    if not args.no_npm:
        jobs.append(("npm.json", lambda: npm_lock_packages(args.npm_lock)))
    for filename, packages in jobs:
        snapshot = Snapshot.load(args.advisories / filename)
        listed = list(packages())
        findings += audit(snapshot, listed)
        report["snapshots"][snapshot.ecosystem] = snapshot.snapshot_date
        report["audited"][snapshot.ecosystem] = len(set(listed))
        report["advisories"] += sum(1 for a in snapshot.advisories if not a.get("withdrawn"))

    report["findings"] = [asdict(f) for f in findings]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for warning in report["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        for f in findings:
            alias = f" ({', '.join(f.aliases)})" if f.aliases else ""
            fix = f"fixed in {f.fixed_in}" if f.fixed_in else "no fixed version"
            print(f"{f.ecosystem} {f.package} {f.version}: {f.advisory}{alias}, {fix}: {f.summary}")
        audited = " + ".join(f"{n} {eco}" for eco, n in report["audited"].items())
        dates = ", ".join(f"{eco} {d}" for eco, d in report["snapshots"].items())
        print(
            f"audited {audited} packages against {report['advisories']} advisories "
            f"(snapshot {dates}): {len(findings)} finding(s)"
        )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
