"""Write the MRZ benchmark images: N per condition (clean, degraded, camera), truth beside each.

Run from the project root::

    .venv/bin/python benchmarks/make_mrz_images.py --out var/mrz_images --per-condition 200

Layout: ``OUT/<condition>/NNNN.png`` (``.jpg`` for the camera) with ``NNNN.json`` ground truth
(MRZ lines, fields, document corners and MRZ line positions in the image, degradations), and
``OUT/manifest.json``. Sample ``i`` of every condition shows the same document (seed
``S * 1_000_000 + i``), so conditions compare like with like. A share of the samples are TD1
cards (``--td1-share``), imaged on their MRZ side. Portraits come from the shared LFW crops when
present (``--faces``); they are only read, never copied. The output is not committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/ holds a script named like a stdlib module (queue.py), which would shadow it for
# anything importing ``queue`` (concurrent.futures, redis): keep this folder off the path.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor

from hardware_mocks.document_page import (
    CONDITIONS,
    Condition,
    render_sample,
    write_sample,
)
from hardware_mocks.document_page.geometry import DocumentKind
from hardware_mocks.travellers import default_faces_dir


def _kind(seed: int, index: int, td1_share: float) -> DocumentKind:
    return "TD1" if random.Random(f"kind|{seed}|{index}").random() < td1_share else "TD3"


def _one(job: tuple[Path, Condition, int, int, DocumentKind, Path | None]) -> str:
    out, condition, index, sample_seed, kind, faces = job
    sample = render_sample(sample_seed, condition, kind, faces)
    return write_sample(sample, out / condition, index).name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-condition", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--td1-share", type=float, default=0.25)
    parser.add_argument("--faces", type=Path, default=None, help="default: the shared LFW crops")
    parser.add_argument("--conditions", nargs="+", choices=CONDITIONS, default=list(CONDITIONS))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    faces = args.faces or default_faces_dir()
    faces_dir: Path | None = faces if faces.is_dir() else None
    if faces_dir is None:
        print(f"no face photos at {faces}: portraits are silhouettes")
    jobs = [
        (
            args.out,
            condition,
            i,
            args.seed * 1_000_000 + i,
            _kind(args.seed, i, args.td1_share),
            faces_dir,
        )
        for condition in args.conditions
        for i in range(args.per_condition)
    ]
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            names = list(pool.map(_one, jobs, chunksize=8))
    else:
        names = [_one(job) for job in jobs]
    manifest = {
        "seed": args.seed,
        "per_condition": args.per_condition,
        "td1_share": args.td1_share,
        "faces": faces_dir is not None,
        "conditions": {
            c: [n for (_, cond, *_), n in zip(jobs, names, strict=True) if cond == c]
            for c in args.conditions
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    elapsed = time.perf_counter() - started
    print(f"wrote {len(names)} images to {args.out} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
