"""Measure the face verifier on the shared LFW crops: FAR/FRR per threshold and time per frame.

Run from the project root: ``.venv/bin/python benchmarks/face_match_bench.py [--data DIR]``.

Each 125 x 125 LFW crop is pasted at the centre of a mid-grey 640 x 480 frame (the kiosk camera's
size) and encoded once through the verifier's own pipeline; every pair is then scored from those
encodings (same identity: genuine pair; different identities: impostor pair). A photo in which the
detector does not find exactly one face is a failure to acquire, counted apart and left out of the
pairs. Timing is detect + encode of one 640 x 480 frame. Nothing is written to disk.

Caveat: 7 identities give only 21 identity pairs, so the impostor pairs are far from independent;
the figures are a sanity check, not a calibration.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from kiosk.biometrics.face_match import FaceRecognitionVerifier

THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
FRAME_W, FRAME_H = 640, 480


def paste_in_frame(img: np.ndarray) -> np.ndarray:
    frame = np.full((FRAME_H, FRAME_W, 3), 128, dtype=np.uint8)
    h, w = img.shape[:2]
    y, x = (FRAME_H - h) // 2, (FRAME_W - w) // 2
    frame[y : y + h, x : x + w] = img
    return frame


def main() -> None:
    default = os.environ.get(
        "BORDERGATE_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--fusion-trials", type=int, default=2000)
    args = parser.parse_args()
    crops = args.data / "faces" / "lfw_crops"
    if not crops.is_dir():
        raise SystemExit(f"no LFW crops at {crops}")

    verifier = FaceRecognitionVerifier()
    labels: list[str] = []
    encodings: list[np.ndarray] = []
    times: list[float] = []
    fta = 0
    for identity in sorted(p for p in crops.iterdir() if p.is_dir()):
        for path in sorted(identity.glob("*.jpg")):
            frame = paste_in_frame(np.asarray(Image.open(path).convert("RGB")))
            t0 = time.perf_counter()
            _, enc = verifier._encode_exactly_one(frame)
            times.append(time.perf_counter() - t0)
            if enc is None:
                fta += 1
                continue
            labels.append(identity.name)
            encodings.append(enc)

    n = len(encodings)
    enc_arr = np.stack(encodings)
    lab = np.array(labels)
    dist = np.linalg.norm(enc_arr[:, None, :] - enc_arr[None, :, :], axis=2)
    iu = np.triu_indices(n, k=1)
    pair_d = dist[iu]
    same = lab[iu[0]] == lab[iu[1]]
    genuine, impostor = pair_d[same], pair_d[~same]

    print(f"photos: {len(times)}, identities: {len(set(labels))}, failures to acquire: {fta}")
    print(f"pairs: {genuine.size} genuine, {impostor.size} impostor")
    print(
        f"detect+encode per 640x480 frame: median {statistics.median(times) * 1000:.0f} ms, "
        f"p95 {np.percentile(times, 95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )
    print(
        f"genuine distance: median {np.median(genuine):.3f}, max {genuine.max():.3f}; "
        f"impostor distance: median {np.median(impostor):.3f}, min {impostor.min():.3f}"
    )
    print("threshold  FAR (impostor accepted)    FRR (genuine rejected)")
    for t in THRESHOLDS:
        fa, fr_ = int((impostor <= t).sum()), int((genuine > t).sum())
        print(
            f"  {t:.2f}     {fa:5d}/{impostor.size} = {fa / impostor.size:7.3%}"
            f"   {fr_:5d}/{genuine.size} = {fr_ / genuine.size:7.3%}"
        )
    # Threshold meeting the EES operating point FMR <= 0.05% on this set, and its FNMR.
    allowed = int(np.floor(0.0005 * impostor.size))
    t_ees = float(np.sort(impostor)[allowed]) - 1e-9 if allowed < impostor.size else 1.0
    frr_ees = float((genuine > t_ees).mean())
    print(f"FMR <= 0.05% needs threshold <= {t_ees:.3f}; FNMR there {frr_ees:.3%} (EES: < 1%)")

    # Fusion of 3 live frames against one reference: median vs minimum distance.
    rng = np.random.default_rng(0)
    by_id: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        by_id.setdefault(name, []).append(i)
    ids = sorted(by_id)
    results: dict[str, dict[str, list[float]]] = {
        "median": {"gen": [], "imp": []},
        "min": {"gen": [], "imp": []},
    }
    for _ in range(args.fusion_trials):
        a, b = rng.choice(len(ids), size=2, replace=False)
        ref, *gen_live = rng.choice(by_id[ids[a]], size=4, replace=False)
        imp_live = rng.choice(by_id[ids[b]], size=3, replace=False)
        for kind, live in (("gen", gen_live), ("imp", imp_live)):
            d = dist[ref, live]
            results["median"][kind].append(float(np.median(d)))
            results["min"][kind].append(float(d.min()))
    print(f"3-frame fusion, {args.fusion_trials} genuine and impostor trials each:")
    for fusion, r in results.items():
        for t in THRESHOLDS:
            far = float(np.mean(np.array(r["imp"]) <= t))
            frr = float(np.mean(np.array(r["gen"]) > t))
            print(f"  {fusion:6s} t={t:.2f}  FAR {far:7.3%}  FRR {frr:7.3%}")
    del encodings, enc_arr, dist  # nothing biometric outlives the run


if __name__ == "__main__":
    main()
