"""Calibrate the face verifier's threshold: FMR/FNMR curves, DET plot, EES point, time per pair.

Run from the project root::

    .venv/bin/python benchmarks/face.py [--data DIR] [--plot /tmp/face_det.png]

Method (it sets ``CALIBRATED_THRESHOLD`` in ``kiosk/biometrics/face_match.py``):

* Data: every LFW crop in ``<data>/faces/lfw_crops/<identity>/`` (7 identities, about 40 tight
  125 x 125 crops each). ``--data`` defaults to ``BORDERGATE_TEST_DATA`` or ``../shared/data``.
* Each crop is used twice, through the verifier's own pipeline (HOG detector upsampled once,
  5-point landmarks, ResNet encoder):

  - as a **live probe**: pasted at the centre of a mid-grey 640 x 480 frame, the kiosk camera's
    size, so the face is about 125 px as at the kiosk's working distance; the frame is not
    upscaled (its shorter side is over 250 px);
  - as the **reference** (the document photo): the crop itself, which the verifier upscales
    bicubically to 250 x 250 before detection.

  A photo in which the detector does not find exactly one face is a failure to acquire (FTA),
  counted and left out of the pairs (the kiosk would retake the frame or refer the traveller).
* Pairs: every ordered (probe i, reference j) with i != j; genuine when the identities agree,
  impostor otherwise. The frame-vs-frame distances (both sides pasted in a frame, unordered
  pairs: the earlier ``face_match_bench.py`` measurement) are printed too, as a check.
* FMR(t) = share of impostor distances <= t; FNMR(t) = share of genuine distances > t, at
  thresholds 0.300-0.700 in steps of 0.005 (the DET points). The chosen threshold is the largest
  grid value (so the lowest FNMR) whose FMR is at most 0.1% *with 95% confidence* (one-sided
  Clopper-Pearson upper bound), so that it does not sit on the worst impostors of this small
  set. The EES point is chosen the same way for FMR <= 0.05%, with its FNMR (EES asks < 1%).
* Three-frame fusion: random trials of one reference against 3 probes of the same identity
  (genuine) or of another identity (impostor), fused by the median distance as the verifier does.
* Time: ``FaceRecognitionVerifier.compare`` (both images detected and encoded, no cache) on
  probe frame + reference crop pairs, wall clock, one thread.
* Upper bounds: the one-sided 95% Clopper-Pearson bound on the FMR, because 7 identities give
  only 21 identity pairs: the impostor pairs are far from independent and the FMR of a larger
  population can be well above this estimate. The figures calibrate this pipeline on this set;
  they are not an EES conformance measurement.

Nothing biometric is written to disk or printed: only distances' statistics and the plot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.stats import beta

from kiosk.biometrics.face_match import CALIBRATED_THRESHOLD, FaceRecognitionVerifier

FRAME_W, FRAME_H = 640, 480
GRID = np.round(np.arange(0.30, 0.7001, 0.005), 3)
FMR_TARGET = 0.001
FNMR_TARGET = 0.03
EES_FMR, EES_FNMR = 0.0005, 0.01
Floats = npt.NDArray[np.float64]


def paste_in_frame(img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    frame = np.full((FRAME_H, FRAME_W, 3), 128, dtype=np.uint8)
    h, w = img.shape[:2]
    y, x = (FRAME_H - h) // 2, (FRAME_W - w) // 2
    frame[y : y + h, x : x + w] = img
    return frame


def rates(genuine: Floats, impostor: Floats, t: float) -> tuple[float, float]:
    return float((impostor <= t).mean()), float((genuine > t).mean())


def upper95(k: int, n: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound of a proportion k/n."""
    return 1.0 if k >= n else float(beta.ppf(0.95, k + 1, n - k))


def best_threshold(genuine: Floats, impostor: Floats, max_fmr: float) -> float | None:
    """The largest grid threshold whose FMR's 95% upper bound is within ``max_fmr``."""
    n = impostor.size
    ok = [float(t) for t in GRID if upper95(int((impostor <= t).sum()), n) <= max_fmr]
    return max(ok) if ok else None


def main() -> None:
    default = os.environ.get(
        "BORDERGATE_TEST_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(default))
    parser.add_argument("--plot", type=Path, default=Path("/tmp/face_det.png"))
    parser.add_argument("--fusion-trials", type=int, default=20000)
    parser.add_argument("--timed-pairs", type=int, default=40)
    args = parser.parse_args()
    crops = args.data / "faces" / "lfw_crops"
    if not crops.is_dir():
        raise SystemExit(f"no LFW crops at {crops}")

    verifier = FaceRecognitionVerifier(threshold=CALIBRATED_THRESHOLD)
    paths = sorted(p for d in crops.iterdir() if d.is_dir() for p in d.glob("*.jpg"))
    labels: list[str] = []
    probes: list[Floats] = []
    refs: list[Floats] = []
    fta_probe = fta_ref = 0
    for path in paths:
        crop = np.asarray(Image.open(path).convert("RGB"))
        _, probe = verifier._encode_exactly_one(paste_in_frame(crop))
        _, ref = verifier._encode_exactly_one(np.ascontiguousarray(crop))
        fta_probe += probe is None
        fta_ref += ref is None
        if probe is None or ref is None:
            continue
        labels.append(path.parent.name)
        probes.append(probe)
        refs.append(ref)

    lab = np.array(labels)
    p_arr, r_arr = np.stack(probes), np.stack(refs)
    same = lab[:, None] == lab[None, :]
    off_diag = ~np.eye(len(lab), dtype=bool)
    d_pr = np.linalg.norm(p_arr[:, None, :] - r_arr[None, :, :], axis=2)  # probe i vs ref j
    genuine, impostor = d_pr[same & off_diag], d_pr[~same]
    d_pp = np.linalg.norm(p_arr[:, None, :] - p_arr[None, :, :], axis=2)
    iu = np.triu_indices(len(lab), k=1)
    ff_same = same[iu]
    ff_gen, ff_imp = d_pp[iu][ff_same], d_pp[iu][~ff_same]

    print(f"dataset: {crops} ({len(paths)} photos, {len(set(labels))} identities)")
    print(f"failures to acquire: {fta_probe} as probe frame, {fta_ref} as reference crop")
    print(
        f"pairs (probe frame vs reference crop): {genuine.size} genuine, {impostor.size} impostor"
    )
    print(
        f"genuine distance median {np.median(genuine):.3f} p99 {np.percentile(genuine, 99):.3f} "
        f"max {genuine.max():.3f}; impostor median {np.median(impostor):.3f} "
        f"p0.1 {np.percentile(impostor, 0.1):.3f} min {impostor.min():.3f}"
    )
    print("\nDET points (threshold, FMR, FNMR); frame-vs-frame check in the last two columns")
    print("  t      FMR       FNMR     | FMR f-f   FNMR f-f")
    for t in GRID:
        fmr, fnmr = rates(genuine, impostor, float(t))
        fmr2, fnmr2 = rates(ff_gen, ff_imp, float(t))
        print(f"  {t:.3f} {fmr:8.4%}  {fnmr:7.3%}  | {fmr2:8.4%}  {fnmr2:7.3%}")

    chosen = best_threshold(genuine, impostor, FMR_TARGET)
    ees_t = best_threshold(genuine, impostor, EES_FMR)
    print()
    for name, t, fmr_goal, fnmr_goal in (
        ("chosen (FMR <= 0.1%)", chosen, FMR_TARGET, FNMR_TARGET),
        ("EES (FMR <= 0.05%)", ees_t, EES_FMR, EES_FNMR),
    ):
        if t is None:
            print(f"{name}: no grid threshold meets the FMR bound")
            continue
        fmr, fnmr = rates(genuine, impostor, t)
        k = int((impostor <= t).sum())
        verdict = "meets" if fmr <= fmr_goal and fnmr <= fnmr_goal else "does NOT meet"
        print(
            f"{name}: t={t:.3f}  FMR {fmr:.4%} ({k}/{impostor.size}, 95% upper "
            f"{upper95(k, impostor.size):.3%})  FNMR {fnmr:.3%}  -> {verdict} "
            f"FMR <= {fmr_goal:.2%} with FNMR <= {fnmr_goal:.0%}"
        )
    if chosen is not None:
        f2, n2 = rates(ff_gen, ff_imp, chosen)
        print(f"frame-vs-frame at t={chosen:.3f}: FMR {f2:.4%}  FNMR {n2:.3%}")
    print(f"threshold in face_match.py now: CALIBRATED_THRESHOLD = {CALIBRATED_THRESHOLD}")

    # Three-frame median fusion against one reference.
    rng = np.random.default_rng(0)
    by_id: dict[str, list[int]] = {}
    for i, name in enumerate(labels):
        by_id.setdefault(name, []).append(i)
    ids = sorted(by_id)
    fused_gen: list[float] = []
    fused_imp: list[float] = []
    for _ in range(args.fusion_trials):
        a, b = rng.choice(len(ids), size=2, replace=False)
        ref_i, *gen_live = rng.choice(by_id[ids[a]], size=4, replace=False)
        imp_live = rng.choice(by_id[ids[b]], size=3, replace=False)
        fused_gen.append(float(np.median(d_pr[gen_live, ref_i])))
        fused_imp.append(float(np.median(d_pr[imp_live, ref_i])))
    fg, fi = np.array(fused_gen), np.array(fused_imp)
    print(f"\n3-frame median fusion, {args.fusion_trials} genuine and impostor trials each:")
    for t in sorted({x for x in (chosen, ees_t, CALIBRATED_THRESHOLD) if x is not None}):
        fmr, fnmr = rates(fg, fi, t)
        print(f"  t={t:.3f}  FMR {fmr:.4%}  FNMR {fnmr:.3%}")
    fused_ees = best_threshold(fg, fi, EES_FMR)
    if fused_ees is not None:
        print(
            f"  EES with fusion: t={fused_ees:.3f} FNMR {rates(fg, fi, fused_ees)[1]:.3%} "
            "at FMR <= 0.05%"
        )

    # Time per verification: probe frame + reference crop, detected and encoded, no cache.
    timed = [paths[i] for i in np.linspace(0, len(paths) - 1, args.timed_pairs).astype(int)]
    times: list[float] = []
    probe_times: list[float] = []
    for probe_path, ref_path in zip(timed, timed[1:] + timed[:1], strict=True):
        frame = paste_in_frame(np.asarray(Image.open(probe_path).convert("RGB")))
        crop = np.ascontiguousarray(np.asarray(Image.open(ref_path).convert("RGB")))
        t0 = time.perf_counter()
        verifier.compare(frame, crop)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        verifier._encode_exactly_one(frame)
        probe_times.append(time.perf_counter() - t0)
    print(
        f"\ntime per pair (640x480 probe + 125x125 reference, {len(times)} pairs): median "
        f"{statistics.median(times) * 1000:.0f} ms, p95 {np.percentile(times, 95) * 1000:.0f} "
        f"ms, max {max(times) * 1000:.0f} ms (target < 250 ms)"
    )
    print(
        f"probe frame alone (reference encoded in advance): median "
        f"{statistics.median(probe_times) * 1000:.0f} ms, "
        f"p95 {np.percentile(probe_times, 95) * 1000:.0f} ms"
    )

    plot_det(genuine, impostor, ff_gen, ff_imp, chosen, args.plot)
    print(f"DET plot written to {args.plot}")
    del probes, refs, p_arr, r_arr  # nothing biometric outlives the run


def plot_det(
    genuine: Floats,
    impostor: Floats,
    ff_gen: Floats,
    ff_imp: Floats,
    chosen: float | None,
    out: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5))
    sweep = np.linspace(0.2, 0.8, 601)
    for gen, imp, label in (
        (genuine, impostor, "probe frame vs reference crop"),
        (ff_gen, ff_imp, "frame vs frame"),
    ):
        floor_m, floor_n = 0.5 / imp.size, 0.5 / gen.size
        fmr = np.array([max((imp <= t).mean(), floor_m) for t in sweep])
        fnmr = np.array([max((gen > t).mean(), floor_n) for t in sweep])
        ax.loglog(fmr, fnmr, label=label)
    if chosen is not None:
        fmr_c, fnmr_c = rates(genuine, impostor, chosen)
        ax.plot(max(fmr_c, 0.5 / impostor.size), fnmr_c, "o", label=f"chosen t={chosen:.2f}")
    ax.plot(EES_FMR, EES_FNMR, "r*", markersize=12, label="EES: FNMR < 1% at FMR 0.05%")
    ax.axvline(FMR_TARGET, color="grey", linestyle=":", label="FMR 0.1%")
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title("DET, face_recognition HOG + ResNet, LFW crops (7 identities)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
