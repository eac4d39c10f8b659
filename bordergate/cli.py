"""The ``bordergate`` command: the demo, each part as its own process, and core capabilities."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal

import typer

from backend.audit.cli import audit_app
from backend.auth.cli import devices_app, feeds_app, users_app
from bordergate.contracts import Hall

app = typer.Typer(
    name="bordergate",
    help="Self-service border clearance: demo, backend, kiosk, queue monitor.",
    no_args_is_help=True,
    add_completion=False,
)


def _overrides(**values: Any) -> dict[str, Any]:
    """Command-line options that were given; the rest come from BORDERGATE_* variables."""
    return {k: v for k, v in values.items() if v is not None}


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary at the end")
    ] = False,
    port: Annotated[int, typer.Option(help="Backend port (0: any free port)")] = 8000,
    kiosks_per_hall: Annotated[int, typer.Option(min=1, max=16)] = 2,
    speed: Annotated[float, typer.Option(help="Simulated device time factor")] = 5.0,
    log_level: Annotated[str, typer.Option()] = "WARNING",
    screen_port: Annotated[
        int | None, typer.Option(help="Traveller pages' port (default: port + 1; 0: any)")
    ] = None,
) -> None:
    """Backend, queue monitor and simulated kiosks at the airport and the cruise terminal."""
    from bordergate.demo import DemoOptions, run_demo
    from bordergate.demo_faces import demo_faces
    from bordergate.logging import configure_logging
    from hardware_mocks.travellers import default_faces_dir
    from kiosk.biometrics.face_match import FaceRecognitionVerifier

    configure_logging(log_level)
    faces_dir, faces_note = demo_faces(default_faces_dir())
    options = DemoOptions(
        faces_dir=faces_dir,
        port=port,
        kiosks_per_hall=kiosks_per_hall,
        speed=speed,
        log_level=log_level,
        screen_port=screen_port,
    )

    def announce(urls: dict[str, str]) -> None:
        if as_json:
            return
        typer.echo("bordergate demo is running (Ctrl-C stops it):")
        for name, url in urls.items():
            typer.echo(f"  {name:<24} {url}")
        if faces_note is not None:
            typer.echo(f"warning: {faces_note}")

    summary = asyncio.run(
        run_demo(
            options,
            FaceRecognitionVerifier(),
            duration_s=duration,
            on_ready=announce,
            on_progress=None if as_json else typer.echo,
        )
    )
    if as_json:
        typer.echo(summary.model_dump_json())
    else:
        typer.echo(json.dumps(summary.model_dump(), indent=2))


@app.command()
def backend(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (needs REDIS_URL)")] = None,
) -> None:
    """The backend API on its own (REDIS_URL names the shared Redis)."""
    from backend.server import run
    from backend.settings import BackendSettings

    run(BackendSettings(**_overrides(host=host, port=port, workers=workers)))


@app.command()
def monitor(
    consumer_name: Annotated[str | None, typer.Option(help="Name in the consumer group")] = None,
) -> None:
    """The queue monitor on its own; several may share the consumer group."""
    from queue_monitor.service import serve
    from queue_monitor.settings import MonitorSettings

    asyncio.run(serve(MonitorSettings(**_overrides(consumer_name=consumer_name))))


@app.command()
def kiosk(
    lane: Annotated[str, typer.Option("--lane", help="Lane id, e.g. A1")],
    hall: Annotated[Hall | None, typer.Option()] = None,
    backend_url: Annotated[str | None, typer.Option()] = None,
    speed: Annotated[float | None, typer.Option(help="Simulated device time factor")] = None,
    arrivals_per_min: Annotated[float | None, typer.Option(help="Own simulated arrivals")] = None,
    max_travellers: Annotated[int | None, typer.Option(help="Stop after this many")] = None,
    screen_port: Annotated[
        int | None, typer.Option(help="Traveller page port (BORDERGATE_SCREEN_PORT; 0: any)")
    ] = None,
) -> None:
    """One e-gate kiosk with its own simulated travellers, serving its traveller page."""
    from bordergate.demo_faces import demo_faces
    from bordergate.logging import configure_logging
    from hardware_mocks.travellers import default_faces_dir
    from kiosk.biometrics.face_match import FaceRecognitionVerifier
    from kiosk.screen.server import run_kiosk_with_screen
    from kiosk.settings import KioskSettings

    settings = KioskSettings(
        **_overrides(
            lane_id=lane,
            hall=hall,
            backend_url=backend_url,
            speed=speed,
            arrival_rate_per_min=arrivals_per_min,
            screen_port=screen_port,
        )
    )
    configure_logging(settings.log_level, settings.log_json)
    if settings.faces_dir is None:
        faces_dir, faces_note = demo_faces(default_faces_dir())
        settings = settings.model_copy(update={"faces_dir": faces_dir})
        if faces_note is not None:
            typer.echo(f"warning: {faces_note}", err=True)
    stats = asyncio.run(
        run_kiosk_with_screen(
            settings,
            FaceRecognitionVerifier(),
            max_travellers=max_travellers,
            # stdout carries only the final JSON line; the page's address goes to stderr.
            on_url=lambda url: typer.echo(f"traveller page: {url}", err=True),
        )
    )
    typer.echo(
        json.dumps(
            {
                "lane_id": stats.lane_id,
                "served": stats.served,
                "admitted": stats.admitted,
                "referred": stats.referred,
                "reasons": dict(stats.reasons),
            }
        )
    )


policy_app = typer.Typer(
    help="The eligibility policy engine: decide one traveller's case.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
# Accounts, kiosk devices and the audit trail (their modules import the backend lazily).
app.add_typer(users_app, name="users")
app.add_typer(devices_app, name="devices")
app.add_typer(feeds_app, name="feeds")
app.add_typer(audit_app, name="audit")


@policy_app.command("check")
def policy_check(
    case: Annotated[str, typer.Argument(help="A case JSON file, or - for standard input")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly the decision object as JSON")
    ] = False,
    lang: Annotated[str, typer.Option(help="Language of the reason texts: en or zh")] = "en",
) -> None:
    """Decide one case. Exit 2 (message on stderr, nothing on stdout) for a malformed case."""
    import sys
    from pathlib import Path

    from pydantic import ValidationError

    from backend.policy.case import PolicyCase
    from backend.policy.engine import PolicyEngine
    from backend.policy.ruleset import RulesError
    from bordergate.countries import UnknownCountryError
    from bordergate.reasons import reason_text

    def fail(message: str, code: int = 2) -> typer.Exit:
        typer.echo(f"bordergate policy check: {message}", err=True)
        return typer.Exit(code)

    if lang not in ("en", "zh"):
        raise fail(f"--lang must be en or zh, not {lang!r}")
    try:
        raw = sys.stdin.read() if case == "-" else Path(case).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {case}: {exc}") from None
    try:
        parsed = PolicyCase.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'case'}: {err['msg']}"
            for err in exc.errors(include_input=False)
        )
        raise fail(f"invalid case: {problems}") from None
    try:
        engine = PolicyEngine.load()
    except RulesError as exc:
        raise fail(f"invalid policy rules: {exc}", code=1) from None
    try:
        decision = engine.decide(parsed)
    except UnknownCountryError as exc:
        raise fail(f"invalid case: {exc}") from None

    if as_json:
        typer.echo(decision.model_dump_json())
        return
    language: Literal["en", "zh"] = "zh" if lang == "zh" else "en"
    scheme = decision.scheme or "no scheme"
    if decision.decision == "admit":
        until = decision.permitted_until.isoformat() if decision.permitted_until else "no limit"
        typer.echo(f"admit under {scheme}, stay until {until}")
    else:
        texts = " ".join(f"[{r}] {reason_text(r, language)}" for r in decision.reasons)
        typer.echo(f"refer ({scheme}): {texts}")


@app.command()
def simulate(
    scenario: Annotated[
        str, typer.Argument(help="A scenario file (JSON or YAML) or a shipped scenario's name")
    ],
    policy: Annotated[
        str,
        typer.Option(
            help="static, reactive, erlang, bordergate, clairvoyant, or all (side by side)"
        ),
    ] = "all",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only one JSON object per policy, one a line")
    ] = False,
    plot: Annotated[
        str | None, typer.Option(help="Write a PNG: one panel column per policy")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed")] = None,
) -> None:
    """Simulate a hall's day (SimPy) under staffing policies. Exit 2 for a bad scenario."""
    from pathlib import Path

    from queue_monitor.planning.report import METRIC_KEYS, metrics
    from queue_monitor.planning.report import plot as plot_results
    from queue_monitor.planning.runner import policy_names, run_policies
    from queue_monitor.planning.scenario import ScenarioError, load_scenario

    def fail(message: str) -> typer.Exit:
        typer.echo(f"bordergate simulate: {message}", err=True)
        return typer.Exit(2)

    try:
        names = policy_names(policy)
        loaded = load_scenario(scenario)
    except (ScenarioError, ValueError) as exc:
        raise fail(str(exc)) from None
    results = run_policies(loaded, names, seed)
    rows = [metrics(r) for r in results]
    if plot:
        plot_results(results, Path(plot))
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    used_seed = loaded.seed if seed is None else seed
    typer.echo(f"{loaded.name} ({loaded.hall}, {loaded.hours:g} h, seed {used_seed})")
    typer.echo("  ".join(f"{k}" for k in METRIC_KEYS))
    for row in rows:
        typer.echo("  ".join(str(row[k]) for k in METRIC_KEYS))
    if plot:
        typer.echo(f"plot written to {plot}")


mrz_app = typer.Typer(
    help="The MRZ reader: data-page images to ICAO 9303 fields.", no_args_is_help=True
)
app.add_typer(mrz_app, name="mrz")


@mrz_app.command("read")
def mrz_read(
    images: Annotated[list[str], typer.Argument(help="Data-page images (PNG, JPEG, ...)")],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per image, one a line, in order")
    ] = False,
) -> None:
    """Read each image's MRZ. A bad file gives valid: false with an error; the batch goes on."""
    from kiosk.mrz.reader import read_mrz

    for image in images:
        result = read_mrz(image)
        if as_json:
            typer.echo(json.dumps(result.to_json(image)))
            continue
        status = "valid" if result.valid else "INVALID"
        typer.echo(f"{image}: {status} {result.format or ''}".rstrip())
        for line in result.lines:
            typer.echo(f"  {line}")
        for error in result.errors:
            typer.echo(f"  error: {error}")


face_app = typer.Typer(
    help="1:1 face verification: is the probe the same person as the reference?",
    no_args_is_help=True,
)
app.add_typer(face_app, name="face")


@face_app.command("verify")
def face_verify(
    probe: Annotated[
        str | None, typer.Argument(help="The live or probe image (PNG, JPEG, ...)")
    ] = None,
    reference: Annotated[
        str | None, typer.Argument(help="The reference image, e.g. the document photo")
    ] = None,
    pairs: Annotated[
        str | None,
        typer.Option(
            help="A file (or - for standard input) of probe<TAB>reference lines, one pair a "
            "line; blank lines and lines starting with # are skipped"
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per pair, one a line, in order")
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(help="Maximum distance for a match (default: the calibrated threshold)"),
    ] = None,
) -> None:
    """Compare faces. An unusable image gives match: false with an error, exit 0; the batch
    goes on. Exit 2 for wrong arguments or an unreadable pairs file."""
    import math
    import sys
    from pathlib import Path

    def fail(message: str) -> typer.Exit:
        typer.echo(f"bordergate face verify: {message}", err=True)
        return typer.Exit(2)

    if threshold is not None and not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise fail(f"--threshold must be in (0, 1], not {threshold}")
    if pairs is not None:
        if probe is not None or reference is not None:
            raise fail("give either PROBE REFERENCE or --pairs FILE, not both")
        try:
            text = sys.stdin.read() if pairs == "-" else Path(pairs).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {pairs}: {exc}") from None
        jobs: list[tuple[str, str]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2 or not all(f.strip() for f in fields):
                raise fail(f"{pairs} line {number}: expected probe<TAB>reference")
            jobs.append((fields[0].strip(), fields[1].strip()))
    elif probe is None or reference is None:
        raise fail("give PROBE and REFERENCE, or --pairs FILE")
    else:
        jobs = [(probe, reference)]

    from kiosk.biometrics.face_match import (
        CALIBRATED_THRESHOLD,
        EncodingCache,
        FaceRecognitionVerifier,
    )
    from kiosk.biometrics.images import load_rgb

    verifier = FaceRecognitionVerifier(
        threshold=CALIBRATED_THRESHOLD if threshold is None else threshold
    )
    cache = EncodingCache(verifier, lambda key: load_rgb(str(key)))
    for probe_path, reference_path in jobs:
        result = cache.compare(probe_path, reference_path)
        if as_json:
            typer.echo(json.dumps(result.to_json()))
            continue
        verdict = "MATCH" if result.matched else "NO MATCH"
        detail = (
            f"distance {result.distance:.3f}, threshold {result.threshold}"
            if result.distance is not None
            else f"error: {result.error}"
        )
        typer.echo(f"{probe_path} vs {reference_path}: {verdict} ({detail})")


if __name__ == "__main__":
    app()
