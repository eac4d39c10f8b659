"""Regenerate docs/reliability.md: every fault, hostile-input and security case, and the load run.

Run from the project root: ``.venv/bin/python benchmarks/reliability.py`` (or
``scripts/reliability.sh``, which installs what the tests need first). Not a test.

The cases are the tests marked ``@pytest.mark.reliability(area)``. Each records, through the
``reliability_case`` fixture, what it injects, what it asserts was kept or refused and what it
measured; this script runs them, reads pytest's junit XML and writes the report, so the report
says what the tests really did and whether they passed on this machine today. The load figures
come from ``benchmarks/load.py --json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AREAS = {
    "faults": "Faults",
    "hostile": "Hostile input",
    "security": "Authentication, authorisation and security",
    "load": "Load (as tests)",
}


@dataclass
class Case:
    area: str
    module: str
    name: str
    outcome: str
    seconds: float
    injects: list[str] = field(default_factory=list)
    asserts: list[str] = field(default_factory=list)
    measured: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""

    @property
    def title(self) -> str:
        words = self.name.removeprefix("test_").replace("_", " ")
        return words[:1].upper() + words[1:]


def run_cases(junit: Path, pytest_args: list[str]) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-m",
        "reliability",
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "junit_family=xunit1",
        f"--junitxml={junit}",
        # The recorder's own test is not a case.
        "--ignore=tests/test_reliability_case.py",
        *pytest_args,
    ]
    print("running:", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def read_cases(junit: Path) -> list[Case]:
    cases: list[Case] = []
    for tc in ET.parse(junit).getroot().iter("testcase"):
        props = [(p.get("name", ""), p.get("value", "")) for p in tc.iter("property")]
        area = next((v for k, v in props if k == "area"), "")
        if not area:
            continue  # a reliability-marked test that never reached its fixture: shown as failed
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = tc.find(tag)
            if node is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
                message = (
                    (node.get("message") or "").splitlines()[0][:300] if node.get("message") else ""
                )
        cases.append(
            Case(
                area=area,
                module=tc.get("classname", ""),
                name=tc.get("name", ""),
                outcome=outcome,
                seconds=float(tc.get("time", "0") or 0),
                injects=[v for k, v in props if k == "injects"],
                asserts=[v for k, v in props if k == "asserts"],
                measured=[
                    (k.removeprefix("measured:"), v) for k, v in props if k.startswith("measured:")
                ],
                message=message,
            )
        )
    return cases


def unreported(junit: Path) -> list[tuple[str, str]]:
    """Marked tests that failed before recording their area (setup errors, missing fixture)."""
    out = []
    for tc in ET.parse(junit).getroot().iter("testcase"):
        if any(p.get("name") == "area" for p in tc.iter("property")):
            continue
        bad = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
        if bad is not None:
            out.append((f"{tc.get('classname')}::{tc.get('name')}", bad.get("message", "")[:300]))
    return out


def run_load(duration: float) -> dict[str, Any] | None:
    script = ROOT / "benchmarks" / "load.py"
    if not script.exists():
        return None
    cmd = [sys.executable, str(script), "--json", "--duration", str(duration)]
    print("running:", " ".join(cmd[1:]), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {
            "error": f"benchmarks/load.py exited {done.returncode}",
            "stderr": done.stderr[-2000:],
        }
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows += _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return rows
    if isinstance(value, float):
        return [(prefix, f"{value:.4g}")]
    return [(prefix, json.dumps(value) if isinstance(value, list) else str(value))]


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu or platform.processor()}), Python {platform.python_version()}"
    )


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def render(
    cases: list[Case],
    broken: list[tuple[str, str]],
    load: dict[str, Any] | None,
    elapsed_s: float,
) -> str:
    passed = sum(c.outcome == "passed" for c in cases)
    lines = [
        "# Reliability and security: faults, load and hostile input",
        "",
        "Generated by `scripts/reliability.sh` (`benchmarks/reliability.py`); do not edit by hand.",
        f"Commit {commit()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {machine()}; "
        f"took {elapsed_s / 60:.1f} min.",
        "",
        f"**{passed} of {len(cases)} cases passed**"
        + (f"; {len(broken)} could not run (listed at the end)." if broken else "."),
        "Every case is a test marked `reliability`: it states what it injects and asserts what "
        "was kept or refused. No fault may open a gate that should not open.",
        "",
    ]
    if load is not None:
        lines += ["## Load (`benchmarks/load.py`)", ""]
        if "error" in load:
            lines += [
                f"**The load run failed:** {load['error']}",
                "",
                "```",
                load.get("stderr", ""),
                "```",
                "",
            ]
        else:
            lines += [str(load.get("summary", "")).strip(), "", "| figure | value |", "|---|---|"]
            lines += [f"| {k} | {v} |" for k, v in _flatten("", load) if k != "summary"]
            lines.append("")
    for area, heading in AREAS.items():
        mine = [c for c in cases if c.area == area]
        if not mine:
            continue
        ok = sum(c.outcome == "passed" for c in mine)
        lines += [f"## {heading}: {ok} of {len(mine)} passed", ""]
        for case in sorted(mine, key=lambda c: (c.module, c.name)):
            lines.append(f"### {case.title}")
            where = f"{case.module.replace('.', '/')}.py::{case.name}"
            lines.append(f"*{case.outcome}* in {case.seconds:.1f} s — `{where}`")
            if case.message:
                lines.append(f"> {case.message}")
            lines.append("")
            lines += [f"- **Injects:** {text}" for text in case.injects]
            lines += [f"- **Asserts:** {text}" for text in case.asserts]
            lines += [f"- **Measured:** {name} = {value}" for name, value in case.measured]
            lines.append("")
    if broken:
        lines += ["## Could not run", ""]
        lines += [f"- `{name}`: {message}" for name, message in broken]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument(
        "--junit", type=Path, help="Use this junit XML instead of running the cases"
    )
    parser.add_argument("--load-duration", type=float, default=30.0, help="Seconds per load phase")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("pytest_args", nargs="*", help="Passed to pytest (e.g. -k redis)")
    args = parser.parse_args()

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        junit = args.junit or Path(tmp) / "reliability.xml"
        status = 0 if args.junit else run_cases(junit, args.pytest_args)
        cases, broken = read_cases(junit), unreported(junit)
    load = None if args.skip_load else run_load(args.load_duration)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(cases, broken, load, time.monotonic() - started))
    failed = [c for c in cases if c.outcome in ("FAILED", "ERROR")]
    print(f"{args.out}: {len(cases)} cases, {len(failed)} failed, {len(broken)} could not run")
    return 1 if status not in (0, 5) or failed or broken or (load or {}).get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
