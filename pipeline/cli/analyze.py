"""Analyse single audio files: tempo, beats and segment keys as JSON lines.

One JSON object per file: path, duration_s, tempo_bpm, beat_times_s and segment_keys
[{start_s, key, strength}] (segments start at each beat).  With --vocal the file is a
vocal: keys are those of the kept voiced windows, and voiced_windows [{start_s,
voiced_ratio}] and voiced_rate (share of voiced frames) are added; the tempo is estimated.
A file that cannot be analysed prints {path, error}; the exit status is then 1.
"""

import dataclasses
import json
import math
import sys

from ..analysis.keys import key_names
from ..analysis.stage import analysis_params, analyze_accompaniment, analyze_vocal
from ..core import audio
from ..core.errors import AudioError
from ..core.segment import SAMPLE_RATE
from ._common import load_params_dict


def add_arguments(parser):
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    parser.add_argument("--vocal", action="store_true",
                        help="treat the files as a-cappella vocals (voiced windows)")
    parser.add_argument("--params", default="{}", metavar="JSON|@FILE",
                        help='{"svd": {...}, "key": {...}, "tempo": {...}} or @path')


def _seconds(samples) -> list[float]:
    return [round(int(s) / SAMPLE_RATE, 4) for s in samples]


def _number(x: float):
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def analyze_file(path: str, *, vocal: bool, svd, key, tempo) -> dict:
    """The JSON-ready analysis of one file (raises AudioError)."""
    y = audio.load_audio(path)
    if vocal:
        res = analyze_vocal(y, svd=svd, key=key, path=path,
                            tempo=dataclasses.replace(tempo, vocal_source="estimate"))
    else:
        res = analyze_accompaniment(y, key=key, tempo=tempo, path=path)
    out = {"path": path, "duration_s": round(len(y) / SAMPLE_RATE, 3),
           "tempo_bpm": _number(res.tempo_bpm), "beat_times_s": _seconds(res.beat_samples),
           "segment_keys": [{"start_s": t, "key": name, "strength": round(float(s), 3)}
                        for t, name, s in zip(_seconds(res.starts), key_names(res.key),
                                              res.key_strength)],
           "track_key": key_names(res.track_key)[0]}
    if vocal:
        out["voiced_windows"] = [{"start_s": t, "voiced_ratio": round(float(r), 3)}
                                 for t, r in zip(_seconds(res.starts), res.voiced_ratio)]
        out["voiced_rate"] = round(res.voiced_rate, 4)
    return out


def run(args) -> int:
    svd, key, tempo = analysis_params(load_params_dict(args.params))
    failed = False
    for path in args.files:
        try:
            record = analyze_file(path, vocal=args.vocal, svd=svd, key=key, tempo=tempo)
        except AudioError as exc:
            record = {"path": path, "error": str(exc).splitlines()[0]}
            failed = True
        print(json.dumps(record), flush=True)
    sys.stdout.flush()
    return 1 if failed else 0
