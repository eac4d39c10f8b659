"""Calibrate the face verifier's threshold: FMR/FNMR curves, DET plot, EES point, time per pair.

Run from the project root::

    .venv/bin/python benchmarks/face.py [--data DIR] [--plot /tmp/face_det.png]

Method (it sets ``CALIBRATED_THRESHOLD`` in ``kiosk/biometrics/face_match.py``):

* Data: every LFW crop in ``<data>/faces/lfw_crops/<identity>/`` (7 identities, about 40 tight
  125 x 125 crops each). ``--data`` defaults to ``BORDERGATE_TEST_DATA`` or ``../shared/data``.
* Each crop is used twice, through the verifier's own pipeline (HOG detector upsampled once,
  5-point landmarks, ResNet encoder on the aligned chip and its mirror image, averaged):

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
* Baseline: the same pairs with one pass of the encoder (no mirror), as before the mirror was
  added; its thresholds and FNMR are printed beside the pipeline's, from the same run.
* Three-frame fusion: random trials of one reference against 3 probes of the same identity
  (genuine) or of another identity (impostor), fused by the median distance as the verifier does.
* Time: ``FaceRecognitionVerifier.compare`` (both images detected and encoded, no cache) on
  probe frame + reference crop pairs, wall clock, one thread.
* Upper bounds: the one-sided 95% Clopper-Pearson bound on the FMR, because 7 identities give
  only 21 identity pairs: the impostor pairs are far from independent and the FMR of a larger
  population can be well above this estimate. The figures calibrate this pipeline on this set;
  they are not an EES conformance measurement.

* Liveness (``--liveness-travellers``, 0 skips it): APCER / BPCER per attack type on the camera
  mock's sequences, the kiosk's CPU from the first frame to the decision, and one live probe vs
  one reference as the kiosk does it; see :func:`liveness_benchmark`.

Nothing biometric is written to disk or printed: only distances' statistics and the plot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.stats import beta

from kiosk.biometrics.face_match import CALIBRATED_THRESHOLD, FaceRecognitionVerifier
from kiosk.settings import KioskSettings

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


def _chip_pair(verifier: FaceRecognitionVerifier, image: Any) -> tuple[Floats, Floats] | None:
    """The encodings of the face's chip and of its mirror, None unless exactly one face."""
    _, prepared, landmarks = verifier._locate_one(image)
    return None if landmarks is None else verifier._chip_encodings(prepared, landmarks)


def _distances(a: Floats, b: Floats) -> Floats:
    """Every row of ``a`` against every row of ``b``: the Euclidean distance matrix."""
    out: Floats = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    return out


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
    parser.add_argument(
        "--liveness-travellers", type=int, default=24, help="0 skips the liveness benchmark"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--challenge-turns",
        type=int,
        default=KioskSettings.model_fields["face_challenge_turns"].default,
        help="head turns per liveness challenge (default: the kiosk's)",
    )
    parser.add_argument(
        "--fusion-frames",
        type=int,
        default=KioskSettings.model_fields["face_fusion_frames"].default,
        help="best live frames the kiosk verifies (default: the kiosk's)",
    )
    parser.add_argument(
        "--replay-challenges",
        type=int,
        default=10,
        help="random challenges each replay recording is also presented to (0 skips)",
    )
    args = parser.parse_args()
    crops = args.data / "faces" / "lfw_crops"
    if not crops.is_dir():
        raise SystemExit(f"no LFW crops at {crops}")

    verifier = FaceRecognitionVerifier(threshold=CALIBRATED_THRESHOLD)
    paths = sorted(p for d in crops.iterdir() if d.is_dir() for p in d.glob("*.jpg"))
    labels: list[str] = []
    # Per photo, as probe and as reference: the chip's encoding and its mirror's; the
    # pipeline's encoding is their mean, the single pass (the baseline) the first alone.
    probes: list[tuple[Floats, Floats]] = []
    refs: list[tuple[Floats, Floats]] = []
    fta_probe = fta_ref = 0
    for path in paths:
        crop = np.asarray(Image.open(path).convert("RGB"))
        probe = _chip_pair(verifier, paste_in_frame(crop))
        ref = _chip_pair(verifier, np.ascontiguousarray(crop))
        fta_probe += probe is None
        fta_ref += ref is None
        if probe is None or ref is None:
            continue
        labels.append(path.parent.name)
        probes.append(probe)
        refs.append(ref)

    lab = np.array(labels)
    p_arr = np.stack([(a + b) / 2 for a, b in probes])
    r_arr = np.stack([(a + b) / 2 for a, b in refs])
    same = lab[:, None] == lab[None, :]
    off_diag = ~np.eye(len(lab), dtype=bool)
    d_pr = _distances(p_arr, r_arr)  # probe i vs ref j
    genuine, impostor = d_pr[same & off_diag], d_pr[~same]
    p_one, r_one = np.stack([a for a, _ in probes]), np.stack([a for a, _ in refs])
    d_one = _distances(p_one, r_one)
    base_gen, base_imp = d_one[same & off_diag], d_one[~same]
    d_pp = _distances(p_arr, p_arr)
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
    for name, goal in (("FMR <= 0.1%", FMR_TARGET), ("FMR <= 0.05%", EES_FMR)):
        t_one = best_threshold(base_gen, base_imp, goal)
        if t_one is not None:
            fmr, fnmr = rates(base_gen, base_imp, t_one)
            print(
                f"baseline, one pass without the mirror ({name}): t={t_one:.3f}  FMR "
                f"{fmr:.4%}  FNMR {fnmr:.3%}"
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

    plot_det(genuine, impostor, ff_gen, ff_imp, base_gen, base_imp, chosen, args.plot)
    print(f"DET plot written to {args.plot}")
    del probes, refs, p_arr, r_arr, p_one, r_one  # nothing biometric outlives the run
    if args.liveness_travellers > 0:
        liveness_benchmark(
            verifier,
            crops,
            args.liveness_travellers,
            args.seed,
            args.replay_challenges,
            turns=args.challenge_turns,
            keep=args.fusion_frames,
        )


KINDS = ("live", "impostor", "print_still", "print_moved", "replay")


def liveness_benchmark(
    verifier: FaceRecognitionVerifier,
    crops: Path,
    travellers: int,
    seed: int,
    replay_challenges: int = 0,
    *,
    turns: int,
    keep: int,
) -> None:
    """APCER / BPCER (ISO/IEC 30107-3) per attack type on the camera mock's sequences.

    Each seeded traveller is presented five times, each with its own random challenge: live
    (bona fide), an impostor (a live person of another identity: bona fide for PAD, an
    impostor for verification), a print held still, a print moved and tilted (answering the
    prompts), a phone replaying a recording. APCER = attack presentations whose liveness
    passed; BPCER = bona fide presentations whose liveness failed; a presentation never
    captured (no good frontal frame within the budget) is a failure to acquire, counted apart.
    CPU: process time of the kiosk's work only (analysis of every frame, the challenge, the
    verification of the best frames against the reference, reference encoding included), from
    the first frame to the decision; the mock's rendering is not counted.

    The mock cannot portray a person facing the camera from a photo turned more than about 30
    degrees (|yaw measure| > ``UNPORTRAYABLE``; one photo also holds a second face): bona
    fide presentations from such photos are counted apart as well.

    ``replay_challenges``: each traveller's replay recording is also presented to that many
    more random challenges (the recording does not react, so its frames and their analysis
    are shared): a larger sample of the one thing that refuses a replay, the timing.
    """
    import random

    # Run as a script, this folder is first on sys.path and its mrz.py would shadow the mrz
    # package that the traveller factory imports.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from hardware_mocks.face_video import LiveActor, PhoneReplayActor, PrintedPhotoActor
    from hardware_mocks.face_video.head import HeadModel
    from hardware_mocks.travellers import PopulationMix, TravellerFactory, _load_face
    from kiosk.biometrics.live_capture import FaceCaptureFlow, run_offline
    from kiosk.biometrics.liveness import random_challenge

    mix = PopulationMix(impostors=0.0, print_still=0.0, print_moved=0.0, replay=0.0)
    factory = TravellerFactory(seed=seed, faces_dir=crops, mix=mix)
    names = sorted({p.parent.name for p in crops.glob("*/*.jpg")})
    rng = random.Random(seed)
    outcome: dict[str, list[str]] = {k: [] for k in KINDS}
    matched: dict[str, list[bool]] = {k: [] for k in KINDS}
    reasons: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    cpu: list[float] = []
    one_pair: list[float] = []
    after_capture: list[float] = []
    frames_seen: list[int] = []
    measured: list[int] = []
    reactions: list[float] = []
    odd: dict[str, list[str]] = {"live": [], "impostor": []}
    """Outcomes of bona fide presentations from photos the mock cannot portray frontal."""
    replay_runs: list[str] = []
    for i in range(travellers):
        t = factory.next()
        assert t.live_photo_path is not None
        reference = t.reference_photo()
        assert reference is not None
        other = rng.choice([n for n in names if n != t.identity])
        other_photo = rng.choice(sorted((crops / other).glob("*.jpg")))
        place = {"x": t.live_x, "y": t.live_y, "size": t.live_size, "background": t.background}
        for kind in KINDS:
            photo = other_photo if kind == "impostor" else t.live_photo_path
            face = np.asarray(_load_face(photo, t.live_size), dtype=np.uint8)
            actor_seed = seed * 1000 + i
            actor: LiveActor | PrintedPhotoActor | PhoneReplayActor
            if kind in ("live", "impostor"):
                actor = LiveActor(face, seed=actor_seed, **place)  # type: ignore[arg-type]
            elif kind == "replay":
                actor = PhoneReplayActor(face, seed=actor_seed, **place)  # type: ignore[arg-type]
            else:
                actor = PrintedPhotoActor(
                    face,
                    moving=kind == "print_moved",
                    seed=actor_seed,
                    **place,  # type: ignore[arg-type]
                )
            timed = _Timed(actor)
            challenge = random_challenge(random.Random(f"{seed}-{i}-{kind}"), turns=turns)
            flow = FaceCaptureFlow(challenge, keep=keep)
            if kind == "replay" and replay_challenges > 0:
                replay_runs += _replay_runs(
                    verifier, actor, replay_challenges, f"{seed}-{i}", turns
                )
            start = time.process_time()
            result = run_offline(timed, verifier.analyzer(), flow)
            face_result = verifier.verify_live(result.frames, reference, result.liveness)
            spent = time.process_time() - start - timed.render_s
            if kind == "live" and result.frames:
                start = time.perf_counter()
                verifier.verify_live(result.frames[:1], reference, result.liveness)
                one_pair.append(time.perf_counter() - start)
                # As the kiosk does it: the reference encoded during the capture.
                template = verifier.encode_reference(reference)
                start = time.perf_counter()
                verifier.verify_live(result.frames[:1], template, result.liveness)
                after_capture.append(time.perf_counter() - start)
                del template
            if result.captured:
                cpu.append(spent)
                frames_seen.append(result.frames_seen)
            if flow.check is not None:
                measured.append(flow.check.measured)
                if kind in ("live", "impostor"):
                    reactions += flow.check.reached_s
            outcome[kind].append(result.liveness if result.captured else "fta")
            if kind in odd and abs(HeadModel.from_photo(face).photo_yaw()) > UNPORTRAYABLE:
                odd[kind].append(outcome[kind][-1])
            reasons[kind][result.reason] += 1
            matched[kind].append(face_result.matched)
    print(
        f"\nliveness on the camera mock: {travellers} travellers x {len(KINDS)} presentations, "
        f"{turns} head turns per challenge, {keep} best frame(s) verified"
    )
    print("  presentation   n   liveness passed  failed  FTA   verification matched")
    for kind in KINDS:
        res = outcome[kind]
        n = len(res)
        passed, failed, fta = (res.count(x) for x in ("passed", "failed", "fta"))
        print(
            f"  {kind:12s} {n:3d}   {passed:3d}             {failed:3d}   {fta:3d}   "
            f"{sum(matched[kind]):3d}"
        )
    for kind in KINDS:
        print(f"  {kind} reasons: {dict(reasons[kind])}")
    bona = outcome["live"] + outcome["impostor"]
    acquired = [x for x in bona if x != "fta"]
    bpcer_k = acquired.count("failed")
    print(
        f"BPCER (bona fide live+impostor, liveness failed): {bpcer_k}/{len(acquired)} = "
        f"{bpcer_k / max(len(acquired), 1):.1%} (95% upper {upper95(bpcer_k, len(acquired)):.1%});"
        f" FTA {bona.count('fta')}/{len(bona)}"
    )
    for kind in ("print_still", "print_moved", "replay"):
        res = [x for x in outcome[kind] if x != "fta"]
        k = res.count("passed")
        print(
            f"APCER {kind:11s}: {k}/{len(res)} = {k / max(len(res), 1):.1%} (95% upper "
            f"{upper95(k, len(res)):.1%}); FTA {outcome[kind].count('fta')}"
        )
    odd_all = odd["live"] + odd["impostor"]
    print(
        f"  of these, from photos the mock cannot portray facing the camera (turned > 30 deg): "
        f"{len(odd_all)}: {dict(Counter(odd_all))}"
    )
    if replay_runs:
        k = replay_runs.count("passed")
        n = len([r for r in replay_runs if r != "fta"])
        print(
            f"APCER replay, each recording against {replay_challenges} more random challenges: "
            f"{k}/{n} = {k / max(n, 1):.2%} (95% upper {upper95(k, n):.2%}; presentations of "
            f"one recording are not independent); FTA {replay_runs.count('fta')}"
        )
    if reactions:
        print(
            f"bona fide response times (prompt to the response first seen, s): min "
            f"{min(reactions):.2f}, median {statistics.median(reactions):.2f}, max "
            f"{max(reactions):.2f}; parallax measurements per capture median "
            f"{statistics.median(measured):.0f}"
        )
    live_ok = [m for m, o in zip(matched["live"], outcome["live"], strict=True) if o != "fta"]
    imp_ok = [m for m, o in zip(matched["impostor"], outcome["impostor"], strict=True)]
    print(
        f"verification of the best live frames (median of up to {keep}), t={verifier.threshold}: "
        f"FNMR {live_ok.count(False)}/{len(live_ok)}, FMR {sum(imp_ok)}/{len(imp_ok)}"
    )
    if cpu:
        print(
            f"kiosk CPU, first frame to decision: median {statistics.median(cpu):.2f} s, "
            f"p95 {np.percentile(cpu, 95):.2f} s, max {max(cpu):.2f} s (target < 1.5 s); "
            f"frames per capture median {statistics.median(frames_seen):.0f}"
        )
    if one_pair:
        print(
            f"one live probe (face located by the capture) vs one reference (detected and "
            f"encoded): median {statistics.median(one_pair) * 1000:.0f} ms, max "
            f"{max(one_pair) * 1000:.0f} ms (target < 250 ms)"
        )
    if after_capture:
        print(
            f"the same with the reference encoded during the capture (the kiosk's wait after "
            f"it): median {statistics.median(after_capture) * 1000:.0f} ms, max "
            f"{max(after_capture) * 1000:.0f} ms"
        )


UNPORTRAYABLE = 0.2
"""Yaw measure of a photo beyond which the mock's head cannot be turned to face the camera."""


def _replay_runs(
    verifier: FaceRecognitionVerifier, actor: Any, k: int, tag: str, turns: int
) -> list[str]:
    """The liveness outcome of ``actor`` (a replay: it ignores prompts) against ``k`` random
    challenges; its frames and their analysis are the same for every challenge."""
    import random

    from kiosk.biometrics.live_capture import FaceCaptureFlow
    from kiosk.biometrics.liveness import random_challenge

    analyzer = verifier.analyzer()
    frames: list[tuple[Any, Any]] = []
    out: list[str] = []
    for c in range(k):
        flow = FaceCaptureFlow(random_challenge(random.Random(f"{tag}-more-{c}"), turns=turns))
        for j in range(200):
            while len(frames) <= j:
                t = len(frames) / 10.0
                image = actor.frame(t)
                frames.append((image, analyzer.observe(image, t)))
            image, obs = frames[j]
            flow.feed(obs, image)
            if flow.outcome is not None:
                break
        result = flow.outcome
        out.append(result.liveness if result is not None and result.captured else "fta")
    frames.clear()
    return out


class _Timed:
    """Wraps a mock actor, adding up its rendering time (not the kiosk's CPU)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.render_s = 0.0

    def frame(self, t: float) -> npt.NDArray[np.uint8]:
        start = time.process_time()
        image: npt.NDArray[np.uint8] = self.actor.frame(t)
        self.render_s += time.process_time() - start
        return image

    def on_prompt(self, key: str | None, t: float) -> None:
        self.actor.on_prompt(key, t)


def plot_det(
    genuine: Floats,
    impostor: Floats,
    ff_gen: Floats,
    ff_imp: Floats,
    base_gen: Floats,
    base_imp: Floats,
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
        (base_gen, base_imp, "probe vs reference, no mirror (before)"),
    ):
        floor_m, floor_n = 0.5 / imp.size, 0.5 / gen.size
        fmr = np.array([max((imp <= t).mean(), floor_m) for t in sweep])
        fnmr = np.array([max((gen > t).mean(), floor_n) for t in sweep])
        ax.loglog(fmr, fnmr, label=label)
    if chosen is not None:
        fmr_c, fnmr_c = rates(genuine, impostor, chosen)
        ax.plot(max(fmr_c, 0.5 / impostor.size), fnmr_c, "o", label=f"chosen t={chosen:.3f}")
    ax.plot(EES_FMR, EES_FNMR, "r*", markersize=12, label="EES: FNMR < 1% at FMR 0.05%")
    ax.axvline(FMR_TARGET, color="grey", linestyle=":", label="FMR 0.1%")
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    ax.set_title("DET, HOG + ResNet, chip + mirror, LFW crops (7 identities)", fontsize=11)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
