"""The ``bordergate`` command: the demo, each part as its own process, and core capabilities."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

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
) -> None:
    """Backend, queue monitor and simulated kiosks at the airport and the cruise terminal."""
    from bordergate.demo import DemoOptions, run_demo
    from bordergate.logging import configure_logging
    from kiosk.biometrics.face_match import FaceRecognitionVerifier

    configure_logging(log_level)
    options = DemoOptions(
        port=port, kiosks_per_hall=kiosks_per_hall, speed=speed, log_level=log_level
    )

    def announce(urls: dict[str, str]) -> None:
        if as_json:
            return
        typer.echo("bordergate demo is running (Ctrl-C stops it):")
        for name, url in urls.items():
            typer.echo(f"  {name:<24} {url}")

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
) -> None:
    """The backend API on its own (REDIS_URL names the shared Redis)."""
    from backend.server import run
    from backend.settings import BackendSettings

    run(BackendSettings(**_overrides(host=host, port=port)))


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
) -> None:
    """One e-gate kiosk with its own simulated travellers."""
    from bordergate.logging import configure_logging
    from kiosk.biometrics.face_match import FaceRecognitionVerifier
    from kiosk.runner import run_kiosk_process
    from kiosk.settings import KioskSettings

    settings = KioskSettings(
        **_overrides(
            lane_id=lane,
            hall=hall,
            backend_url=backend_url,
            speed=speed,
            arrival_rate_per_min=arrivals_per_min,
        )
    )
    configure_logging(settings.log_level, settings.log_json)
    stats = asyncio.run(
        run_kiosk_process(settings, FaceRecognitionVerifier(), max_travellers=max_travellers)
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


if __name__ == "__main__":
    app()
