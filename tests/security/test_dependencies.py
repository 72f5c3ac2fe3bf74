"""Known vulnerabilities in the pinned dependencies fail the suite.

Offline (always runs): ``scripts/audit.py`` checks the installed Python set, the pins of
requirements.txt and every package of frontend/package-lock.json against the advisory
snapshot committed in ``security/advisories/`` (OSV records taken from the PyPA and GitHub
advisory databases). It is first proven on pins known to be vulnerable (django 4.2.0,
lodash 4.17.15), which must fail it; its OSV range evaluation has unit tests here.

Online (where a source answers): ``pip-audit`` on requirements.txt and ``npm audit`` on the
board's production dependencies. Both need a vulnerability database on the network:
pip-audit asks PyPI's per-release JSON API (``/pypi/<name>/<version>/json``) or OSV
(api.osv.dev); npm audit posts to the npm registry's advisory endpoint. Each test first
proves that its source answers, by auditing the same known vulnerable pins. When no source
answers from this machine those tests skip and say why; with ``PAUSE_AUDIT_REQUIRED=true``
(a CI with internet access) that is a failure instead.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIP_AUDIT = Path(sys.executable).with_name("pip-audit")
REQUIRED = os.environ.get("PAUSE_AUDIT_REQUIRED", "").lower() in ("1", "true", "yes")
VULNERABLE_PIN = "django==4.2.0"  # dozens of published advisories (e.g. CVE-2023-31047)
SERVICES = ("pypi", "osv")


def _unavailable(message: str):
    if REQUIRED:
        pytest.fail(message + " (PAUSE_AUDIT_REQUIRED=true)", pytrace=False)
    pytest.skip(message)


def _run_json(args: list[str], *, timeout: int, cwd: Path) -> tuple[int, dict | None, str]:
    """Exit code, the JSON report on stdout (None when the tool crashed) and stderr's
    last line."""
    run = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        report = None
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return run.returncode, report, last


def _pip_audit(requirements: Path, service: str) -> tuple[int, dict | None, str]:
    return _run_json(
        [
            str(PIP_AUDIT),
            "-r",
            str(requirements),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--vulnerability-service",
            service,
            "--timeout",
            "20",
        ],
        timeout=180,
        cwd=ROOT,
    )


def _vulns(report: dict) -> dict[str, list[str]]:
    return {
        d["name"]: [v["id"] for v in d.get("vulns", [])]
        for d in report.get("dependencies", [])
        if d.get("vulns")
    }


@pytest.fixture(scope="module")
def pip_audit_service(tmp_path_factory) -> str:
    """The first vulnerability service that flags the known vulnerable pin."""
    if not PIP_AUDIT.exists():
        _unavailable(f"pip-audit is not installed in {PIP_AUDIT.parent} (requirements.txt)")
    probe = tmp_path_factory.mktemp("audit") / "vulnerable.txt"
    probe.write_text(VULNERABLE_PIN + "\n")
    why = []
    for service in SERVICES:
        code, report, last = _pip_audit(probe, service)
        if report is not None and _vulns(report).get("django"):
            assert code != 0, "a vulnerable pin must fail pip-audit"
            return service
        if report is not None:
            skipped = [d.get("skip_reason", "") for d in report.get("dependencies", [])]
            why.append(f"{service}: {'; '.join(s for s in skipped if s) or 'no advisory found'}")
        else:
            why.append(f"{service}: {last[:200]}")
    _unavailable(
        "pip-audit cannot reach a vulnerability database from this machine "
        f"({' | '.join(why)}); run `pip-audit -r requirements.txt --no-deps --disable-pip` "
        "where PyPI's JSON API or api.osv.dev answers"
    )


def test_a_known_vulnerable_pin_fails_pip_audit(pip_audit_service, tally):
    """django==4.2.0 is reported with its advisories and the audit exits non-zero (so a
    clean report on our pins means something)."""
    tally.note(f"pip-audit ({pip_audit_service}): the vulnerable pin {VULNERABLE_PIN} fails it")


def test_the_pinned_python_dependencies_have_no_known_vulnerability(pip_audit_service, tally):
    """pip-audit finds no advisory against any pin of requirements.txt."""
    code, report, last = _pip_audit(ROOT / "requirements.txt", pip_audit_service)
    assert report is not None, last
    found = _vulns(report)
    assert found == {}, found
    assert code == 0
    audited = len(report.get("dependencies", []))
    tally.note(f"pip-audit ({pip_audit_service}): 0 known vulnerabilities in {audited} pins")


# --------------------------------------------------------------------------- npm

VULNERABLE_LOCK = {
    "name": "audit-probe",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {
        "": {"name": "audit-probe", "version": "1.0.0", "dependencies": {"lodash": "4.17.15"}},
        # Prototype pollution, high (CVE-2020-8203, GHSA-p6mc-m468-83gw).
        "node_modules/lodash": {"version": "4.17.15", "license": "MIT"},
    },
}


def _npm_audit(folder: Path) -> tuple[int, dict | None, str]:
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed (Node 20+)")
    return _run_json(
        [npm, "audit", "--omit=dev", "--audit-level=high", "--json"], timeout=120, cwd=folder
    )


def _npm_error(report: dict | None, last: str) -> str | None:
    """Why npm audit got no answer from its source, or None when it did."""
    if report is None:
        return last or "no JSON report"
    if "error" in report or "statusCode" in report:
        error = report.get("error") or {}
        parts = (report.get("message"), error.get("code"), error.get("summary"))
        return (" ".join(str(p) for p in parts if p) or last)[:200]
    if "vulnerabilities" not in report and "metadata" not in report:
        return "no report"
    return None


@pytest.fixture(scope="module")
def npm_audit_source(tmp_path_factory) -> None:
    """npm audit flags a lockfile pinning lodash 4.17.15, or the test skips."""
    probe = tmp_path_factory.mktemp("npm-audit")
    (probe / "package.json").write_text(
        json.dumps(
            {"name": "audit-probe", "version": "1.0.0", "dependencies": {"lodash": "4.17.15"}}
        )
    )
    (probe / "package-lock.json").write_text(json.dumps(VULNERABLE_LOCK))
    code, report, last = _npm_audit(probe)
    why = _npm_error(report, last)
    if why is not None:
        _unavailable(
            f"npm audit cannot reach the registry's advisory endpoint from this machine ({why}); "
            "run `npm audit --omit=dev --audit-level=high` in frontend/ where it answers"
        )
    assert "lodash" in report.get("vulnerabilities", {}), report
    assert code != 0, "a high-severity advisory must fail npm audit --audit-level=high"


def test_a_known_vulnerable_npm_pin_fails_npm_audit(npm_audit_source, tally):
    """lodash 4.17.15 fails ``npm audit --audit-level=high``."""
    tally.note("npm audit: the vulnerable pin lodash 4.17.15 fails it")


def test_the_board_has_no_high_severity_advisory(npm_audit_source, tally):
    """``npm audit --omit=dev --audit-level=high`` passes on frontend/package-lock.json."""
    code, report, last = _npm_audit(ROOT / "frontend")
    assert _npm_error(report, last) is None
    high = {
        name: v.get("severity")
        for name, v in report.get("vulnerabilities", {}).items()
        if v.get("severity") in ("high", "critical")
    }
    assert high == {}
    assert code == 0
    tally.note("npm audit (production dependencies): no high or critical advisory")


# --------------------------------------------------------------------------- offline

AUDIT = ROOT / "scripts" / "audit.py"
SNAPSHOTS = ROOT / "security" / "advisories"
# Advisories of the snapshot that cover django 4.2.0 (4.2 before 4.2.x). CVE-2023-31047
# (4.2 before 4.2.1) is not among them: the source's record lists no 4.2 range.
DJANGO_420 = {
    "PYSEC-0000-CVE-2023-36053",
    "PYSEC-0000-CVE-2023-41164",
    "PYSEC-0000-CVE-2023-43665",
    "PYSEC-0000-CVE-2023-46695",
    "PYSEC-0000-CVE-2024-24680",
    "PYSEC-0000-CVE-2024-27351",
    "PYSEC-0000-CVE-2024-38875",
    "PYSEC-0000-CVE-2024-39329",
    "PYSEC-0000-CVE-2024-39330",
    "PYSEC-0000-CVE-2024-39614",
    "PYSEC-0000-CVE-2024-41989",
    "PYSEC-0000-CVE-2024-41990",
    "PYSEC-0000-CVE-2024-41991",
    "PYSEC-0000-CVE-2024-42005",
    "PYSEC-0000-CVE-2024-45230",
}


def _load_audit():
    spec = importlib.util.spec_from_file_location("pause_audit", AUDIT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


audit = _load_audit()


def _run_audit(*args: str) -> tuple[int, dict]:
    """scripts/audit.py as CI runs it: a subprocess of this venv's Python, JSON report."""
    run = subprocess.run(
        [sys.executable, str(AUDIT), "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


def _ids(report: dict, package: str) -> set[str]:
    return {f["advisory"] for f in report["findings"] if f["package"] == package}


def test_offline_audit_passes_on_the_installed_set_and_the_board_lock(tally):
    """Every distribution of this venv and every package of frontend/package-lock.json:
    no advisory of the snapshot applies."""
    code, report = _run_audit()
    assert report["findings"] == []
    assert code == 0
    assert report["audited"]["PyPI"] >= 90  # the venv, not an empty environment
    assert report["audited"]["npm"] >= 200  # every lock entry, dev and nested included
    tally.note(
        f"offline audit (scripts/audit.py): {report['audited']['PyPI']} Python + "
        f"{report['audited']['npm']} npm packages against {report['advisories']} advisories, "
        f"0 findings"
    )


def test_offline_audit_passes_on_the_pins_of_requirements_txt():
    code, report = _run_audit("-r", "requirements.txt", "--no-npm")
    assert report["warnings"] == []  # every line of the lock is a pin
    assert report["findings"] == []
    assert code == 0
    assert report["audited"]["PyPI"] >= 90


def test_offline_audit_fails_a_known_vulnerable_python_pin(tmp_path, tally):
    """django==4.2.0 fails with the advisories of the 4.2 branch; each reports its fix."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(VULNERABLE_PIN + "\nasgiref==3.13.0  # clean\n")
    code, report = _run_audit("-r", str(requirements), "--no-npm")
    assert code == 1
    assert _ids(report, "django") == DJANGO_420
    assert _ids(report, "asgiref") == set()
    fixes = {f["advisory"]: f["fixed_in"] for f in report["findings"]}
    assert fixes["PYSEC-0000-CVE-2023-36053"] == "4.2.3"
    assert fixes["PYSEC-0000-CVE-2024-45230"] == "4.2.16"
    # The same pin after the last of those fixes passes (positive control).
    requirements.write_text("django==4.2.16\n")
    code, report = _run_audit("-r", str(requirements), "--no-npm")
    assert (code, report["findings"]) == (0, [])
    tally.note(f"offline audit: {VULNERABLE_PIN} fails with {len(DJANGO_420)} advisories")


def test_offline_audit_fails_a_known_vulnerable_npm_pin(tmp_path, tally):
    """A lock pinning lodash 4.17.15 fails with GHSA-p6mc-m468-83gw; 4.17.20 passes."""
    lock = tmp_path / "package-lock.json"
    lock.write_text(json.dumps(VULNERABLE_LOCK))
    code, report = _run_audit("--no-python", "--npm-lock", str(lock))
    assert code == 1
    assert _ids(report, "lodash") == {
        "GHSA-p6mc-m468-83gw",
        "GHSA-35jh-r3h4-6jhm",
        "GHSA-29mw-wpgm-hmr9",
    }
    fixed = json.loads(json.dumps(VULNERABLE_LOCK))
    fixed["packages"]["node_modules/lodash"]["version"] = "4.17.20"
    lock.write_text(json.dumps(fixed))
    code, report = _run_audit("--no-python", "--npm-lock", str(lock))
    assert "GHSA-p6mc-m468-83gw" not in _ids(report, "lodash")
    tally.note("offline audit: the vulnerable pin lodash 4.17.15 fails it")


@pytest.mark.parametrize(
    ("package", "version", "advisory"),
    [
        ("semver", "6.3.0", "GHSA-c2qf-rxjj-qqgw"),  # second of three ranges
        ("semver", "7.5.1", "GHSA-c2qf-rxjj-qqgw"),
        ("@babel/traverse", "8.0.0-alpha.3", "GHSA-67hx-6x53-jw92"),  # a prerelease range
        ("minimist", "0.2.3", "GHSA-xvch-5gv4-984h"),
    ],
)
def test_snapshot_records_with_several_ranges(package, version, advisory):
    """Real records of npm.json: a version in any of an advisory's ranges is reported,
    the first fixed version above it is not (nor are our own versions)."""
    snapshot = audit.Snapshot.load(SNAPSHOTS / "npm.json")
    assert [f.advisory for f in audit.audit(snapshot, [(package, version)])] == [advisory]
    fixed_in = audit.audit(snapshot, [(package, version)])[0].fixed_in
    assert audit.audit(snapshot, [(package, fixed_in)]) == []


def test_the_advisory_snapshot_covers_every_dependency_and_says_its_date(tally):
    """Each snapshot names every package we depend on in its coverage table, and its
    date is printed (an old snapshot does not fail the suite: docs/security.md says how
    to refresh it)."""
    pins, _ = audit.requirements_pins(ROOT / "requirements.txt")
    lock = {name for name, _ in audit.npm_lock_packages(ROOT / "frontend" / "package-lock.json")}
    ages = []
    for name, expected in (("pypi.json", set(pins)), ("npm.json", lock)):
        data = json.loads((SNAPSHOTS / name).read_text())
        missing = expected - set(data["coverage"])
        assert missing == set(), f"{name} has no coverage entry for {sorted(missing)}"
        date = dt.date.fromisoformat(data["snapshot_date"])
        ages.append(f"{data['ecosystem']} {date} ({(dt.date.today() - date).days} days old)")
        for advisory in data["advisories"]:
            assert {"id", "package", "ecosystem", "ranges", "source"} <= set(advisory)
    tally.note("advisory snapshots: " + ", ".join(ages))


# Range evaluation (OSV semantics), on hand-made advisories.


def _advisory(ecosystem: str, *events: str, versions: tuple[str, ...] = (), **extra) -> dict:
    kinds = {"i": "introduced", "f": "fixed", "l": "last_affected"}
    parsed = [{kinds[e[0]]: e[2:]} for e in events]
    return {
        "id": "TEST-1",
        "package": "p",
        "ecosystem": ecosystem,
        "ranges": [{"type": "ECOSYSTEM", "events": parsed}],
        "versions": list(versions),
        "fixed": [next(iter(e.values())) for e in parsed if "fixed" in e],
        **extra,
    }


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.9", (False, None)),
        ("1.0", (True, "1.4")),  # introduced is inclusive
        ("1.3.9", (True, "1.4")),
        ("1.4", (False, None)),  # fixed is exclusive
        ("1.9", (False, None)),
        ("2.0", (True, "2.2")),  # a second span
        ("2.2.0", (False, None)),
        ("3.0", (False, None)),
    ],
)
def test_introduced_and_fixed_spans(version, expected):
    advisory = _advisory("PyPI", "i:2.0", "f:2.2", "i:1.0", "f:1.4")  # unsorted, as in OSV
    assert audit.affects(advisory, version) == expected


def test_introduced_zero_is_below_every_version_and_events_are_sorted():
    # The source's CVE-2023-31047 record: 0 opens, 3.2.19 and 4.1.9 close.
    advisory = _advisory("PyPI", "i:0", "i:4.0", "f:4.1.9", "i:3.2", "f:3.2.19")
    assert audit.affects(advisory, "0.1") == (True, "3.2.19")
    assert audit.affects(advisory, "3.2.18") == (True, "3.2.19")
    assert audit.affects(advisory, "3.2.19") == (False, None)
    assert audit.affects(advisory, "4.1.8") == (True, "4.1.9")
    assert audit.affects(advisory, "4.2.0") == (False, None)


def test_last_affected_is_inclusive_and_has_no_fix():
    advisory = _advisory("npm", "i:1.0.0", "l:1.2.3")
    assert audit.affects(advisory, "1.2.3") == (True, None)
    assert audit.affects(advisory, "1.2.4") == (False, None)
    assert audit.affects(advisory, "0.9.9") == (False, None)


def test_an_open_range_affects_every_later_version():
    advisory = _advisory("PyPI", "i:0")
    assert audit.affects(advisory, "99.0") == (True, None)


def test_explicit_versions_list():
    advisory = _advisory("PyPI", "i:5.0", "f:5.1", versions=("4.2.7", "not-a-version"))
    assert audit.affects(advisory, "4.2.7") == (True, "5.1")  # first fix above it
    assert audit.affects(advisory, "not-a-version") == (True, None)
    assert audit.affects(advisory, "4.2.8") == (False, None)


def test_git_ranges_and_unreadable_versions_are_ignored():
    advisory = _advisory("PyPI")
    advisory["ranges"] = [{"type": "GIT", "events": [{"introduced": "0"}, {"fixed": "abc123"}]}]
    assert audit.affects(advisory, "1.0") == (False, None)
    assert audit.affects(_advisory("PyPI", "i:0", "f:2.0"), "latest") == (False, None)


def test_pep440_prereleases_order_before_their_release():
    advisory = _advisory("PyPI", "i:0", "f:24.7.0rc1")  # Twisted's PYSEC-2024-75
    assert audit.affects(advisory, "24.7.0rc0") == (True, "24.7.0rc1")
    assert audit.affects(advisory, "24.3.0") == (True, "24.7.0rc1")
    assert audit.affects(advisory, "24.7.0rc1") == (False, None)
    assert audit.affects(advisory, "24.7.0") == (False, None)
    assert audit.affects(_advisory("PyPI", "i:4.2", "f:4.2.1"), "4.2.0") == (True, "4.2.1")


def test_semver_ordering():
    order = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0-0",
        "2.0.0",
    ]  # the SemVer 2.0.0 specification's example, plus numeric (not string) comparison
    parsed = [audit.SemVer(v) for v in order]
    assert sorted(reversed(parsed)) == parsed
    assert audit.SemVer("1.0.0+build.5") == audit.SemVer("1.0.0")
    with pytest.raises(ValueError):
        audit.SemVer("1.0")


def test_semver_prereleases_in_ranges():
    advisory = _advisory("npm", "i:0", "f:4.17.20")
    assert audit.affects(advisory, "4.17.20-rc.1") == (True, "4.17.20")
    assert audit.affects(advisory, "4.17.15") == (True, "4.17.20")
    assert audit.affects(advisory, "4.17.20") == (False, None)
    assert audit.affects(advisory, "4.18.1") == (False, None)


def test_withdrawn_advisories_and_other_packages_do_not_match():
    snapshot = audit.Snapshot(
        "PyPI",
        "2026-11-26",
        [
            _advisory("PyPI", "i:0", withdrawn="2023-06-06T10:37:00Z"),
            {**_advisory("PyPI", "i:0"), "id": "TEST-2", "package": "Other_Package"},
        ],
    )
    assert audit.audit(snapshot, [("p", "1.0")]) == []
    found = audit.audit(snapshot, [("other-package", "1.0")])  # PEP 503 names
    assert [f.advisory for f in found] == ["TEST-2"]


def test_requirements_and_lock_parsing(tmp_path):
    requirements = tmp_path / "r.txt"
    requirements.write_text(
        "# comment\n-e .\nDjango==4.2.0\n    # via x\n"
        "uvicorn[standard]==0.54.0 ; python_version>'3'\nrequests>=2\n"
    )
    pins, unpinned = audit.requirements_pins(requirements)
    assert pins == {"django": "4.2.0", "uvicorn": "0.54.0"}
    assert unpinned == ["requests>=2"]
    lock = tmp_path / "package-lock.json"
    lock.write_text(
        json.dumps(
            {
                "lockfileVersion": 3,
                "packages": {
                    "": {"name": "root", "version": "1.0.0"},
                    "node_modules/a": {"version": "1.0.0"},
                    "node_modules/a/node_modules/@s/b": {"version": "2.0.0"},
                    "node_modules/alias": {"name": "real", "version": "3.0.0"},
                    "node_modules/ws": {"resolved": "packages/ws", "link": True},
                },
            }
        )
    )
    assert audit.npm_lock_packages(lock) == {("a", "1.0.0"), ("@s/b", "2.0.0"), ("real", "3.0.0")}
