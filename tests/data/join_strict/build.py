"""Writes the strict-join fixture: inputs from a seeded generator and the pairs/unmatched tables of the
join as of main 1349ea8 (before match tiers).  Run once with that commit on PYTHONPATH, from the
repository root; tests/test_tiers.py checks that the strict policy still gives these tables.
"""
import numpy as np
import pandas as pd

from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.mashup.join import join_windows

rng = np.random.default_rng(15)
tempi = np.array([90.0, 99.5, 100.49, 120.0, 119.6, 140.4, 70.2, 180.0])
L = 40 * SEGMENT_SAMPLES
rows = []
for p in range(80):
    t = rng.choice(tempi) if p % 13 else np.nan
    for j in range(5):
        rows.append({"perf_id": f"p{p:03d}", "singer": f"s{p % 11}", "song": f"song{p % 6}",
                     "start": int(rng.integers(0, 50)) * 1000 + j * 70000,
                     "key": int(rng.integers(0, 24)) if p % 3 else 2, "tempo_bpm": t,
                     "key_margin": float(rng.uniform(0, 0.3))})
w = pd.DataFrame(rows)
segs, tracks = [], []
for t in range(10):
    tempo = float(rng.choice(tempi))
    tracks.append({"track_id": f"t{t}", "audio_length": L - (t % 3) * 5000, "acc_shard": t % 3})
    for b in range(30):
        segs.append({"track_id": f"t{t}", "beat_index": b, "start": b * SEGMENT_SAMPLES + int(rng.integers(0, 3000)),
                     "key": int(rng.integers(0, 24)) if t % 2 else 2, "tempo_bpm": tempo,
                     "key_margin": float(rng.uniform(0, 0.3)),
                     "change_margin_s": float(rng.uniform(-3, 10))})
s, tr = pd.DataFrame(segs), pd.DataFrame(tracks)
ids = sorted(w["perf_id"].unique())
split = pd.DataFrame({"id": ids[:-4], "subset": (["train", "valid", "test_model", "test_query"] * 40)[:len(ids) - 4]})
d = "tests/data/join_strict"
for name, df in [("windows", w), ("segments", s), ("tracks", tr), ("split", split)]:
    df.to_parquet(f"{d}/{name}.parquet", index=False)
for tag, kw in [("default", dict(max_segment_uses=20, key_change_margin_s=0.5, min_key_margin=0.05)),
                ("capped", dict(mixes_per_window=2, max_segment_uses=3, key_change_margin_s=-3.0, min_key_margin=0.0))]:
    r = join_windows(w, s, tr, split, seed=11, **kw)
    r.pairs.to_parquet(f"{d}/pairs-{tag}.parquet", index=False)
    r.unmatched.to_parquet(f"{d}/unmatched-{tag}.parquet", index=False)
    print(tag, len(r.pairs), len(r.unmatched), r.unmatched.reason.value_counts().to_dict())
