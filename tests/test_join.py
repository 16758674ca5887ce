import numpy as np
import pandas as pd

from pipeline.core.music import relative_key
from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.mashup.join import join_windows, tempo_bucket
from pipeline.mashup.tiers import Tier

TRACK_LEN = 40 * SEGMENT_SAMPLES


def synthetic_tables(rng, n_perfs=30, windows_per_perf=4, n_tracks=8, segs_per_track=12):
    """Random windows/segments over a few tempi and keys; ids are stable strings."""
    tempi = np.array([90.0, 100.2, 120.0, 119.6, 140.4])
    rows = []
    for p in range(n_perfs):
        tempo = rng.choice(tempi) if p % 10 else np.nan
        for j in range(windows_per_perf):
            rows.append({"perf_id": f"p{p:03d}", "singer": f"s{p % 7}", "song": f"song{p % 5}",
                         "start": int(rng.integers(0, 50)) * 1000 + j * 70000,
                         "key": int(rng.integers(0, 24)) if p % 3 else 2, "tempo_bpm": tempo})
    windows = pd.DataFrame(rows)
    segs, tracks = [], []
    for t in range(n_tracks):
        tempo = float(rng.choice(tempi))
        tracks.append({"track_id": f"t{t}", "audio_length": TRACK_LEN, "acc_shard": t % 3})
        for b in range(segs_per_track):
            start = b * 3 * SEGMENT_SAMPLES if b < segs_per_track - 1 else TRACK_LEN - 100
            segs.append({"track_id": f"t{t}", "beat_index": b, "start": start,
                         "key": int(rng.integers(0, 24)) if t % 2 else 2, "tempo_bpm": tempo})
    split = pd.DataFrame({"id": [f"p{p:03d}" for p in range(n_perfs - 2)],
                          "subset": ["train", "valid", "test_model"] * ((n_perfs - 2) // 3)
                          + ["train"] * ((n_perfs - 2) % 3)})
    return windows, pd.DataFrame(segs), pd.DataFrame(tracks), split


KW = dict(seed=7, mixes_per_window=2, max_segment_uses=3)


def test_every_pair_satisfies_tempo_and_key_relation(rng):
    w, s, t, split = synthetic_tables(rng)
    res = join_windows(w, s, t, split, policy=[Tier("loose", tempo_tolerance_bpm=1,
                                                    half_double=True, relative_keys=True)], **KW)
    p = res.pairs
    assert len(p) > 0
    assert (np.abs(tempo_bucket(p["acc_tempo_bpm"]) - tempo_bucket(p["tempo_bpm"])) <= 1
            | (np.abs(tempo_bucket(p["acc_tempo_bpm"]) - tempo_bucket(2 * p["tempo_bpm"])) <= 1)
            | (np.abs(tempo_bucket(p["acc_tempo_bpm"]) - tempo_bucket(p["tempo_bpm"] / 2)) <= 1)
            ).all()
    rel = np.array([relative_key(k) for k in p["key"]])
    assert ((p["acc_key"] == p["key"]) | (p["acc_key"] == rel)).all()
    assert (p["acc_start"] + SEGMENT_SAMPLES <= TRACK_LEN).all()  # the last, unfitting segments never used
    assert p["segment_id"].is_unique


def test_default_match_is_equal_whole_bpm_and_same_key(rng):
    w, s, t, split = synthetic_tables(rng)
    p = join_windows(w, s, t, split, policy="strict", **KW).pairs
    assert (tempo_bucket(p["acc_tempo_bpm"]) == tempo_bucket(p["tempo_bpm"])).all()
    assert (p["acc_key"] == p["key"]).all()
    assert set(p["tempo_relation"]) == {"equal"} and set(p["key_relation"]) == {"same"}


def test_cap_mixes_and_distinct_tracks(rng):
    w, s, t, split = synthetic_tables(rng)
    res = join_windows(w, s, t, split, **KW)
    p = res.pairs
    assert p.groupby(["acc_track", "acc_start"]).size().max() <= 3
    assert p.groupby(["perf_id", "window_index"]).size().max() <= 2
    assert not p.duplicated(["perf_id", "window_index", "acc_track"]).any()
    assert res.usage["segments"].sum() == len(s) - len(t)  # every fitting segment counted once
    assert (res.usage["uses"] * res.usage["segments"]).sum() == len(p)


def test_unmatched_are_accounted_with_reasons(rng):
    w, s, t, split = synthetic_tables(rng)
    res = join_windows(w, s, t, split, **KW)
    matched = res.pairs.drop_duplicates(["perf_id", "window_index"])
    assert len(matched) + len(res.unmatched) == len(w)
    reasons = set(res.unmatched["reason"])
    assert {"not in split", "no tempo"} <= reasons
    assert reasons <= {"not in split", "no tempo", "no tempo match", "no key match",
                       "segments exhausted"}
    allrow = res.coverage.set_index("subset").loc["all"]
    assert allrow["windows"] == len(w) and allrow["matched"] == len(matched)
    nt = res.unmatched[res.unmatched["reason"] == "no tempo match"]
    assert not set(tempo_bucket(nt["tempo_bpm"])) & set(tempo_bucket(s["tempo_bpm"]))


def test_no_key_match_reason():
    w = pd.DataFrame({"perf_id": ["a"], "singer": ["x"], "song": ["s"], "start": [0],
                      "key": [0], "tempo_bpm": [100.0]})
    s = pd.DataFrame({"track_id": ["t"], "beat_index": [0], "start": [0], "key": [21],
                      "tempo_bpm": [100.4]})
    t = pd.DataFrame({"track_id": ["t"], "audio_length": [SEGMENT_SAMPLES]})
    split = pd.DataFrame({"id": ["a"], "subset": ["train"]})
    res = join_windows(w, s, t, split, seed=0)
    assert list(res.unmatched["reason"]) == ["no key match"]
    res = join_windows(w, s, t, split, seed=0, policy=[Tier("rel", relative_keys=True)])  # A minor
    # is C major's relative
    assert list(res.pairs["key_relation"]) == ["relative"] and res.unmatched.empty


def test_join_does_not_depend_on_sharding_or_order(rng):
    w, s, t, split = synthetic_tables(rng)
    whole = join_windows(w, s, t, split, **KW)
    shuffled_w = w.sample(frac=1, random_state=3)
    parts = [shuffled_w.iloc[i::4] for i in range(4)]
    shuffled = join_windows(pd.concat(parts[::-1], ignore_index=True),
                            s.sample(frac=1, random_state=4), t.iloc[::-1], split, **KW)
    pd.testing.assert_frame_equal(whole.pairs, shuffled.pairs)
    pd.testing.assert_frame_equal(whole.unmatched, shuffled.unmatched)
    other_seed = join_windows(w, s, t, split, **{**KW, "seed": 8})
    assert not other_seed.pairs["acc_start"].equals(whole.pairs["acc_start"])


def test_tempo_relation_rule():
    w = pd.DataFrame({"perf_id": list("abcd"), "singer": "x", "song": "s", "start": 0, "key": 0,
                      "tempo_bpm": 100.0})
    s = pd.DataFrame({"track_id": list("pqrs"), "beat_index": 0, "start": 0, "key": 0,
                      "tempo_bpm": [100.4, 50.2, 199.6, 103.0]})
    t = pd.DataFrame({"track_id": list("pqrs"), "audio_length": SEGMENT_SAMPLES})
    split = pd.DataFrame({"id": list("abcd"), "subset": "train"})
    res = join_windows(w, s, t, split, seed=0, mixes_per_window=4,
                       policy=[Tier("hd", half_double=True)])
    assert dict(zip(res.pairs["acc_track"], res.pairs["tempo_relation"])) == {
        "p": "equal", "q": "half", "r": "double"}


def test_confident_segments_keep_clear_keys_away_from_changes():
    from pipeline.mashup.join import confident_segments

    seg = pd.DataFrame({"track_id": ["a"] * 6,
                        "change_margin_s": [np.inf, 2.0, 0.5, 0.49, -0.1, -2.0],
                        "key_margin": [0.2, 0.04, 0.2, 0.2, 0.2, 0.2]})
    kept = confident_segments(seg, change_margin_s=0.5, min_key_margin=0.05)
    assert kept.index.tolist() == [0, 2]
    assert len(confident_segments(seg, change_margin_s=-3.0)) == 6  # defaults: keep all
    assert len(confident_segments(seg.drop(columns=["change_margin_s", "key_margin"]),
                                  change_margin_s=0.5, min_key_margin=0.05)) == 6


def test_ambiguous_window_keys_are_unmatched_with_a_reason(rng):
    w, s, t, split = synthetic_tables(rng)
    matched = join_windows(w, s, t, split, **KW).pairs.drop_duplicates(["perf_id", "vocal_start"])
    unclear = set(zip(matched.perf_id[:3], matched.vocal_start[:3]))
    w["key_margin"] = [0.01 if (p, st) in unclear else 0.2 for p, st in zip(w.perf_id, w.start)]
    res = join_windows(w, s, t, split, **{**KW, "min_key_margin": 0.05})
    ambiguous = res.unmatched[res.unmatched["reason"] == "ambiguous key"]
    assert set(zip(ambiguous.perf_id, ambiguous.vocal_start)) == unclear
    assert not unclear & set(zip(res.pairs.perf_id, res.pairs.vocal_start))
    assert res.coverage.loc[0, "ambiguous_key"] == 3
