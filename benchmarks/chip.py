"""Chip read + passive authentication time per traveller (target: under 50 ms).

Run from the project root: ``.venv/bin/python benchmarks/chip.py [--chips 200]``.

Issues one virtual chip per synthetic traveller (their LFW document photo as the DG2 JPEG when
the shared data is there, a synthetic portrait otherwise), writes the test PKI's master list to
a temporary folder, loads it, then times :func:`kiosk.chip.read_chip` per chip: BAC key
derivation and check, reading DG1/DG2/EF.SOD, parsing, passive authentication (chain, validity,
CRL, SOD signature, hashes, DG1 against the page), DG1 to document data and the DG2 JPEG decoded
to RGB. Issuing is not timed. Nothing is written outside the temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import structlog

from hardware_mocks.chip import MockPKI, issue_chip, jpeg_from_rgb
from hardware_mocks.chip.interface import ChipFile, mrz_information
from hardware_mocks.travellers import PopulationMix, TravellerFactory
from kiosk.chip import MasterList, passive_authentication, read_chip

TARGET_MS = 50.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chips", type=int, default=200)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    pki = MockPKI(seed="benchmark")
    mix = PopulationMix(expired=0.0, forged_check_digit=0.0)
    factory = TravellerFactory(seed=11, mix=mix, today=pki.now.date())
    travellers = factory.generate(args.chips)
    fallback = np.full((360, 300, 3), 220, dtype=np.uint8)
    chips = []
    for traveller in travellers:
        photo = traveller.reference_photo()
        jpeg = jpeg_from_rgb(photo if photo is not None else fallback)
        chips.append((issue_chip(traveller, jpeg, pki), traveller.mrz_lines))
    at = pki.now + timedelta(hours=10)

    with tempfile.TemporaryDirectory() as tmp:
        pki.write_master_list(Path(tmp), sorted({t.nationality for t in travellers}))
        master_list = MasterList.load(Path(tmp))

    total_ms: list[float] = []
    pa_ms: list[float] = []
    failed = 0
    for chip, mrz in chips:
        t0 = time.perf_counter()
        reading = read_chip(chip, mrz, master_list, at)
        total_ms.append((time.perf_counter() - t0) * 1000)
        failed += not reading.authenticated
        files = chip.select_and_read(
            mrz_information(mrz), (ChipFile.DG1, ChipFile.DG2, ChipFile.SOD)
        )
        dgs = {1: files[ChipFile.DG1], 2: files[ChipFile.DG2]}
        t0 = time.perf_counter()
        passive_authentication(dgs, files[ChipFile.SOD], master_list, mrz, at)
        pa_ms.append((time.perf_counter() - t0) * 1000)

    sizes = [
        len(chip.select_and_read(mrz_information(m), (ChipFile.DG2,))[ChipFile.DG2])
        for chip, m in chips
    ]
    median, p95 = statistics.median(total_ms), percentile(total_ms, 0.95)
    print(
        f"chips: {len(chips)} ({'LFW photos' if factory.has_faces else 'synthetic portraits'}, "
        f"DG2 median {statistics.median(sizes) / 1024:.1f} KiB), not authenticated: {failed}"
    )
    print(
        f"chip read + passive authentication: median {median:.2f} ms, p95 {p95:.2f} ms "
        f"(target < {TARGET_MS:.0f} ms: {'met' if p95 < TARGET_MS else 'MISSED'})"
    )
    print(
        f"  of which passive authentication alone: median {statistics.median(pa_ms):.2f} ms, "
        f"p95 {percentile(pa_ms, 0.95):.2f} ms"
    )


if __name__ == "__main__":
    main()
