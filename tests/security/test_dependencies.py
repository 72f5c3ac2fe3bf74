"""Known vulnerabilities in the pinned dependencies fail the suite: ``pip-audit`` on
requirements.txt and ``npm audit`` on the board's production dependencies.

Both need a vulnerability database on the network: pip-audit asks PyPI's per-release
JSON API (``/pypi/<name>/<version>/json``) or OSV (api.osv.dev); npm audit posts to the
npm registry's advisory endpoint. Each test first proves that its source answers, by
auditing a pin known to be vulnerable (django 4.2.0, lodash 4.17.15), which must fail the
audit. When no source answers from this machine the tests skip and say why; with
``PAUSE_AUDIT_REQUIRED=true`` (a CI with internet access) that is a failure instead.
"""

from __future__ import annotations

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


def _pip_audit(requirements: Path, service: str) -> tuple[int, dict | None, str]:
    """Exit code, the JSON report (None when pip-audit crashed) and stderr's last line."""
    run = subprocess.run(
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
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        report = None
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return run.returncode, report, last


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
    run = subprocess.run(
        [npm, "audit", "--omit=dev", "--audit-level=high", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        report = None
    last = (run.stderr.strip().splitlines() or [""])[-1]
    return run.returncode, report, last


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
