"""Speed and accuracy of the analysis stage on a demo corpus.

Speed: x-realtime per core (audio seconds / CPU seconds of this single process, BLAS, numba
and torch threads pinned to 1; median of --repeats) for decode+resample (wav and m4a),
SVD, beat tracking, key finding and the whole vocal stage on m4a; peak memory.
Accuracy against the corpus's truth tables: SVD frame F1, accompaniment tempo within 4 %
(octave errors apart), MIREX key scores on accompaniment segments and vocal windows, for
numpy vs librosa vs essentia beats and for each key setting, with the time each takes.

    python bench/bench_analysis.py --corpus results/demo [--limit-vocals 120] [--repeats 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.analysis.chroma import compute_chroma  # noqa: E402
from pipeline.analysis.key_params import KeyParams  # noqa: E402
from pipeline.analysis.keys import segment_keys, track_key  # noqa: E402
from pipeline.analysis.scoring import score_accompaniment, score_vocal  # noqa: E402
from pipeline.analysis.stage import analyze_vocal  # noqa: E402
from pipeline.analysis.tempo import TempoParams, track_beats  # noqa: E402
from pipeline.analysis.voicing import SvdParams, detect_voiced_windows  # noqa: E402
from pipeline.core import audio  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE  # noqa: E402
from pipeline.sources import load_accompaniment  # noqa: E402

KK = {"profile": "krumhansl"}  # the Krumhansl-Kessler profiles of the paper
ACC_KEY_SETTINGS = {  # accompaniment segments: chroma / context / profile
    "ks stft1024 power segment (authors)": KeyParams(n_fft=1024, power=2.0, context="segment",
                                                     **KK),
    "ks stft2048 power segment": KeyParams(n_fft=2048, power=2.0, context="segment", **KK),
    "ks stft2048 mag segment": KeyParams(n_fft=2048, power=1.0, context="segment", **KK),
    "ks stft2048 mag window6": KeyParams(n_fft=2048, power=1.0, context="window",
                                         window_seconds=6.0, **KK),
    "ks stft4096 mag window8 (before sections)": KeyParams(context="window", **KK),
    "ks stft2048 mag track": KeyParams(n_fft=2048, power=1.0, context="track", **KK),
    "ks cqt segment": KeyParams(chroma="cqt", context="segment", **KK),
    "essentia krumhansl segment": KeyParams(method="essentia", essentia_profile="krumhansl",
                                            context="segment"),
    "essentia bgate segment": KeyParams(method="essentia", essentia_profile="bgate",
                                        context="segment"),
    "ks sections krumhansl": KeyParams(**KK),
    "default (sections, albrecht)": KeyParams(),
}
VKK = {"vocal_profile": "krumhansl"}
VOCAL_KEY_SETTINGS = {  # vocal windows: vocal_chroma / vocal_context / vocal_profile
    "ks stft1024 power segment (authors)": KeyParams(n_fft=1024, power=2.0, vocal_chroma="stft",
                                                     vocal_context="segment", **VKK),
    "ks stft2048 mag segment": KeyParams(n_fft=2048, power=1.0, vocal_chroma="stft",
                                         vocal_context="segment", **VKK),
    "ks stft2048 mag track": KeyParams(n_fft=2048, power=1.0, vocal_chroma="stft",
                                       vocal_context="track", **VKK),
    "ks cqt track": KeyParams(vocal_chroma="cqt", vocal_context="track", **VKK),
    "ks pitch segment": KeyParams(vocal_chroma="pitch", vocal_context="segment", **VKK),
    "ks pitch window8": KeyParams(vocal_chroma="pitch", vocal_context="window", **VKK),
    "ks pitch track krumhansl": KeyParams(vocal_chroma="pitch", vocal_context="track", **VKK),
    "essentia krumhansl track": KeyParams(method="essentia", essentia_profile="krumhansl",
                                          vocal_context="track"),
    "default (pitch track, albrecht)": KeyParams(),
}
SVD_SETTINGS = {"absolute 0.04 (authors)": SvdParams(threshold_mode="absolute"),
                "relative 20 dB (default)": SvdParams(),
                "relative 15 dB": SvdParams(relative_db=15.0),
                "relative 25 dB": SvdParams(relative_db=25.0)}


def cpu_time(fn, repeats: int) -> tuple[float, object]:
    """Median CPU seconds of ``fn()`` over ``repeats`` runs and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return float(np.median(times)), out


def xrt(seconds_audio: float, seconds_cpu: float) -> str:
    return f"{seconds_audio / seconds_cpu:8.0f}x" if seconds_cpu > 0 else "     inf"


def speed(vocals: pd.DataFrame, accs: list[np.ndarray], repeats: int) -> None:
    m4a = vocals[vocals["path"].str.endswith(".m4a")]
    wav = vocals[vocals["path"].str.endswith(".wav")]
    print(f"\n== speed, x-realtime per core (median of {repeats}) ==")
    for name, rows in (("decode+resample wav", wav), ("decode+resample m4a", m4a)):
        if len(rows):
            t, ys = cpu_time(lambda: [audio.load_audio(p) for p in rows["path"]], repeats)
            print(f"{name:42s} {xrt(sum(len(y) for y in ys) / SAMPLE_RATE, t)}")
    ys = [audio.load_audio(p) for p in m4a["path"]]
    total = sum(len(y) for y in ys) / SAMPLE_RATE
    t, _ = cpu_time(lambda: [detect_voiced_windows(y) for y in ys], repeats)
    print(f"{'SVD (frame RMS + windows)':42s} {xrt(total, t)}")
    acc_total = sum(len(y) for y in accs) / SAMPLE_RATE
    track_beats(accs[0][: SAMPLE_RATE * 5], method="librosa")  # numba JIT warm-up
    for name, tp in (("beats numpy (default, accompaniments)", TempoParams()),
                     ("beats librosa (accompaniments)", TempoParams(method="librosa")),
                     ("beats essentia (accompaniments)", TempoParams(method="essentia"))):
        t, _ = cpu_time(lambda: [track_beats(y, **tp.beat_kwargs()) for y in accs], 1)
        print(f"{name:42s} {xrt(acc_total, t)}")
    for name, kp in ACC_KEY_SETTINGS.items():
        def keys_of_all():
            for y in accs:
                c = compute_chroma(y, **kp.chroma_kwargs())
                starts = np.arange(0, len(y) - 65536, SAMPLE_RATE // 2)
                segment_keys(c, starts, **kp.key_kwargs())
                track_key(c, **kp.profile_kwargs())
        t, _ = cpu_time(keys_of_all, 1)
        print(f"{'keys ' + name:42s} {xrt(acc_total, t)}")

    def vocal_stage():
        for p, bpm in zip(m4a["path"], m4a["tempo_bpm"]):
            try:
                analyze_vocal(audio.load_audio(p), table_bpm=bpm)
            except Exception:  # skipped files still cost their decode
                pass
    t, _ = cpu_time(vocal_stage, repeats)
    print(f"{'whole vocal stage, m4a (default params)':42s} {xrt(total, t)}   "
          f"({len(m4a)} files, {total / 60:.1f} min)")


def accuracy(corpus: Path, vocals: pd.DataFrame, acc_truth: pd.DataFrame,
             accs: list[np.ndarray]) -> None:
    print("\n== accuracy against the truth tables ==")
    ys = {r["perf_key"]: audio.load_audio(r["path"]) for r in vocals.to_dict("records")}
    rows = vocals.to_dict("records")
    for name, sp in SVD_SETTINGS.items():
        f1 = [score_vocal(r, ys[r["perf_key"]], svd=sp)["f1"] for r in rows]
        print(f"SVD {name:28s}: frame F1 mean {np.mean(f1):.3f}, median {np.median(f1):.3f}, "
              f"min {np.min(f1):.3f}  (n={len(f1)})")
    for name, tp in (("numpy", TempoParams()), ("librosa", TempoParams(method="librosa")),
                     ("essentia", TempoParams(method="essentia"))):
        t0 = time.process_time()
        tracks = [score_accompaniment(r, y, tempo=tp, key=KeyParams())[0]
                  for r, y in zip(acc_truth.to_dict("records"), accs)]
        dt = time.process_time() - t0
        df = pd.DataFrame(tracks)
        other = 1 - df["tempo_ok"].mean() - df["octave_error"].mean()
        print(f"tempo {name:9s}: within 4% {df['tempo_ok'].mean():.0%}, octave errors "
              f"{df['octave_error'].mean():.0%}, other {other:.0%}"
              f"  (n={len(df)}, {dt:.1f} s CPU incl. default keys)")
    print(f"{'accompaniment key setting':38s} {'segments':>9s} {'clean':>7s} {'agree':>6s} "
          f"{'CPU s':>6s}")
    for name, kp in ACC_KEY_SETTINGS.items():
        seg, clean, agree = [], [], []
        t0 = time.process_time()
        for r, y in zip(acc_truth.to_dict("records"), accs):
            track, s = score_accompaniment(r, y, key=kp)
            seg.extend(s["score"])
            clean.extend(s["score"][~s["straddles"]])
            agree.append(track["agreement"])
        print(f"{name:38s} {np.mean(seg):9.3f} {np.mean(clean):7.3f} {np.mean(agree):6.2f} "
              f"{time.process_time() - t0:6.1f}")
    print("(MIREX over segments at each beat vs the key at their centre; clean: segments not "
          "spanning a key change; agree: share of segment keys equal to the track key; CPU "
          "includes beat tracking)")
    print(f"{'vocal key setting':38s} {'windows':>9s} {'track':>7s} {'agree':>6s} {'CPU s':>6s}")
    for name, kp in VOCAL_KEY_SETTINGS.items():
        t0 = time.process_time()
        scores = [score_vocal(r, ys[r["perf_key"]], key=kp) for r in rows]
        ok = [s for s in scores if not s["error"]]
        print(f"{name:38s} {np.mean([s['key_score'] for s in ok]):9.3f} "
              f"{np.mean([s['track_key_score'] for s in ok]):7.3f} "
              f"{np.mean([s['agreement'] for s in ok]):6.2f} {time.process_time() - t0:6.1f}")
    print(f"(MIREX over kept vocal windows and of the track key vs the song key; "
          f"{len(scores) - len(ok)} vocals skipped by SVD)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="demo corpus root (with truth/)")
    parser.add_argument("--limit-vocals", type=int, default=120)
    parser.add_argument("--limit-tracks", type=int, default=0, help="0 = all")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args(argv)
    corpus = Path(args.corpus)
    vocals = pd.read_parquet(corpus / "truth" / "vocals.parquet")
    vocals = vocals.sort_values("perf_key").head(args.limit_vocals).reset_index(drop=True)
    vocals["path"] = [str(corpus / p) for p in vocals["path"]]
    acc_truth = pd.read_parquet(corpus / "truth" / "accompaniments.parquet")
    acc_truth["path"] = [str(corpus / p) for p in acc_truth["path"]]
    if args.limit_tracks:
        acc_truth = acc_truth.head(args.limit_tracks)
    accs = [load_accompaniment(r) for r in acc_truth.to_dict("records")]
    print(f"corpus {corpus}: {len(vocals)} vocals "
          f"({vocals['path'].str.endswith('.m4a').sum()} m4a), {len(accs)} accompaniments "
          f"({sum(len(y) for y in accs) / SAMPLE_RATE / 60:.1f} min)")
    if not args.skip_speed:
        speed(vocals, accs, args.repeats)
    if not args.skip_accuracy:
        accuracy(corpus, vocals, acc_truth, accs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
