"""Match tiers of the join: strict = the join before tiers, each pair obeys its tier's rules,
the first tier that yields wins, and the recorded ratio, distance, shift and stretch."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.segment import SEGMENT_SAMPLES
from pipeline.mashup.join import SHIFT_MARGIN_SAMPLES, input_samples, join_windows
from pipeline.mashup.tiers import PRESETS, Tier, key_distance, parse_policy, tempo_bucket

DATA = Path(__file__).resolve().parent / "data" / "join_strict"


def _fixture():
    return [pd.read_parquet(DATA / f"{n}.parquet") for n in ("windows", "segments", "tracks", "split")]


@pytest.mark.parametrize("tag, kw", [
    ("default", dict(max_segment_uses=20, key_change_margin_s=0.5, min_key_margin=0.05)),
    ("capped", dict(mixes_per_window=2, max_segment_uses=3, key_change_margin_s=-3.0,
                    min_key_margin=0.0))])
def test_strict_reproduces_the_join_before_tiers(tag, kw):
    """The tables were written by the join of main 1349ea8 (tests/data/join_strict/build.py)."""
    w, s, t, split = _fixture()
    res = join_windows(w, s, t, split, seed=11, policy="strict", **kw)
    expected = pd.read_parquet(DATA / f"pairs-{tag}.parquet")
    pd.testing.assert_frame_equal(res.pairs[list(expected.columns)], expected)
    pd.testing.assert_frame_equal(res.unmatched, pd.read_parquet(DATA / f"unmatched-{tag}.parquet"))
    assert set(res.pairs["tier"]) == {"exact"}
    assert (res.pairs["shift_semitones"] == 0).all() and (res.pairs["stretch_ratio"] == 1.0).all()


def test_key_distance_by_hand():
    # C on C; C major vocal on A minor (relative, +3); G on C (-5); F# on C (-6); B on C# (-2)
    assert key_distance([0, 0, 7, 6, 11], [0, 21, 0, 0, 1]).tolist() == [0, 3, -5, -6, -2]
    d = key_distance(np.repeat(np.arange(24), 24), np.tile(np.arange(24), 24))
    assert d.min() == -6 and d.max() == 5


LOOSE = [Tier("exact"), Tier("bpm2", tempo_tolerance_bpm=2),
         Tier("hd", tempo_tolerance_percent=4, half_double=True),
         Tier("rel", tempo_tolerance_percent=4, half_double=True, relative_keys=True),
         Tier("shift", half_double=True, relative_keys=True, max_semitones=3, max_stretch_percent=8),
         Tier("any", tempo_tolerance_bpm=2, any_key=True)]


def _rel(k):
    k = np.asarray(k)
    return np.where(k < 12, (k + 9) % 12 + 12, (k - 12 + 3) % 12)


def test_every_pair_obeys_its_tier_and_the_first_yielding_tier_wins():
    w, s, t, split = _fixture()
    w.loc[w["perf_id"].str[-1].isin(["1", "4"]), "tempo_bpm"] += 1.7  # near misses for bpm2
    kw = dict(seed=11, max_segment_uses=0, key_change_margin_s=-3.0, min_key_margin=0.0)
    res = join_windows(w, s, t, split, policy=LOOSE, **kw)
    p = res.pairs
    assert set(p["tier"]) == {t.name for t in LOOSE}, p["tier"].value_counts()
    f = p["tempo_relation"].map({"equal": 1.0, "half": 0.5, "double": 2.0}).to_numpy()
    target = f * p["tempo_bpm"].to_numpy()
    gap = np.abs(tempo_bucket(p["acc_tempo_bpm"]) - tempo_bucket(target))
    vk, ak = p["key"].to_numpy(), p["acc_key"].to_numpy()
    shifted = (ak // 12) * 12 + (ak + p["shift_semitones"].to_numpy()) % 12
    tier = p["tier"].to_numpy()
    assert (gap[tier == "exact"] == 0).all() and (f[tier == "exact"] == 1).all()
    assert (vk[tier == "exact"] == ak[tier == "exact"]).all()
    assert (gap[tier == "bpm2"] <= 2).all() and (vk[tier == "bpm2"] == ak[tier == "bpm2"]).all()
    hd = np.isin(tier, ["hd", "rel"])
    assert (gap[hd] <= np.floor(0.04 * target[hd] + 1e-9)).all()
    assert (vk[tier == "hd"] == ak[tier == "hd"]).all()
    assert ((ak[tier == "rel"] == vk[tier == "rel"]) | (ak[tier == "rel"] == _rel(vk[tier == "rel"]))).all()
    assert (gap[tier == "any"] <= 2).all()
    # shifted pairs: after the shift the key is the vocal's (or its relative), and the stretch
    # brings the accompaniment to the target tempo exactly
    sh = tier == "shift"
    assert ((shifted[sh] == vk[sh]) | (shifted[sh] == _rel(vk[sh]))).all()
    assert (np.abs(p["shift_semitones"][sh]) <= 3).all() and (p["shift_semitones"][sh] != 0).any()
    np.testing.assert_allclose(p["stretch_ratio"][sh] * p["acc_tempo_bpm"][sh], target[sh])
    assert (np.abs(target[sh] / tempo_bucket(p["acc_tempo_bpm"][sh]) - 1) <= 0.08 + 1e-9).all()
    length = t.set_index("track_id")["audio_length"]
    need = input_samples(p["stretch_ratio"], p["shift_semitones"])
    assert (p["acc_start"].to_numpy() + need <= length[p["acc_track"]].to_numpy()).all()
    assert (need[sh] >= np.ceil(p["stretch_ratio"][sh] * SEGMENT_SAMPLES) + SHIFT_MARGIN_SAMPLES).all()
    assert (p.loc[~sh, "shift_semitones"] == 0).all() and (p.loc[~sh, "stretch_ratio"] == 1.0).all()
    # recorded ratio and distance
    np.testing.assert_allclose(p["tempo_ratio"], p["acc_tempo_bpm"] / p["tempo_bpm"])
    assert (p["key_distance"] == key_distance(vk, ak)).all()
    # the first tier that yields wins: without a cap, the exact pairs are strict's pairs
    strict = join_windows(w, s, t, split, policy="strict", **kw).pairs
    assert len(strict) > 100
    pd.testing.assert_frame_equal(p[p["tier"] == "exact"].reset_index(drop=True)[list(strict.columns)],
                                  strict.reset_index(drop=True))
    # ... and a window matched at tier k has no candidate in tiers before k
    for k in range(1, len(LOOSE)):
        mine = p[p["tier"] == LOOSE[k].name].drop_duplicates("segment_id")
        earlier = join_windows(w[w["perf_id"].isin(mine["perf_id"])], s, t, split,
                               policy=LOOSE[:k], **kw).pairs
        assert not set(zip(earlier.perf_id, earlier.vocal_start)) & set(
            zip(mine.perf_id, mine.vocal_start)), LOOSE[k].name
    # coverage counts each matched window at its tier
    cov = res.coverage.iloc[0]
    assert sum(cov[f"tier:{t.name}"] for t in LOOSE) == cov["matched"]


def test_exhausted_windows_fall_through_to_the_next_tier():
    w = pd.DataFrame({"perf_id": ["a", "b"], "singer": "x", "song": "s", "start": 0, "key": 0,
                      "tempo_bpm": 100.0})
    s = pd.DataFrame({"track_id": ["p", "q"], "beat_index": 0, "start": 0, "key": 0,
                      "tempo_bpm": [100.0, 102.0]})
    t = pd.DataFrame({"track_id": ["p", "q"], "audio_length": SEGMENT_SAMPLES})
    split = pd.DataFrame({"id": ["a", "b"], "subset": "train"})
    res = join_windows(w, s, t, split, seed=0, max_segment_uses=1,
                       policy=[Tier("exact"), Tier("bpm2", tempo_tolerance_bpm=2)])
    assert res.pairs["tier"].tolist() == ["exact", "bpm2"]
    assert res.pairs["acc_track"].tolist() == ["p", "q"]
    strict = join_windows(w, s, t, split, seed=0, max_segment_uses=1, policy="strict")
    assert strict.unmatched["reason"].tolist() == ["segments exhausted"]


def test_a_stretch_that_does_not_fit_its_track_is_not_chosen():
    w = pd.DataFrame({"perf_id": ["a"], "singer": "x", "song": "s", "start": 0, "key": 0,
                      "tempo_bpm": [105.0]})
    s = pd.DataFrame({"track_id": ["p"], "beat_index": 0, "start": 0, "key": 0, "tempo_bpm": 100.0})
    split = pd.DataFrame({"id": ["a"], "subset": "train"})
    policy = [Tier("stretch", max_stretch_percent=6)]
    need = int(np.ceil(1.05 * SEGMENT_SAMPLES)) + SHIFT_MARGIN_SAMPLES
    for length, matched in ((need - 1, False), (need, True)):
        t = pd.DataFrame({"track_id": ["p"], "audio_length": [length]})
        res = join_windows(w, s, t, split, seed=0, policy=policy)
        assert (len(res.pairs) == 1) is matched, length
    assert res.pairs["stretch_ratio"].iloc[0] == pytest.approx(1.05)


def test_policy_presets_and_errors():
    assert parse_policy("strict") == (Tier("exact"),)
    assert [t.name for t in parse_policy("authors")] == ["exact", "bpm1", "bpm2", "relative", "any key"]
    custom = parse_policy([{"name": "a"}, {"name": "b", "tempo_tolerance_percent": 3,
                                            "shift": {"max_semitones": 2}}])
    assert custom[1] == Tier("b", tempo_tolerance_percent=3.0, max_semitones=2)
    assert parse_policy([t.spec() for t in PRESETS["default"]]) == PRESETS["default"]
    for bad, words in ((("nope"), "unknown preset"), ([], "at least one"),
                       ([{"name": "a"}, {"name": "a"}], "distinct"),
                       ([{"name": "a", "tolerance": 1}], "unknown keys"),
                       ([{"name": "a", "tempo_tolerance_bpm": -1}], ">= 0"),
                       ([{"name": "a", "shift": {"max_semitones": 7}}], "0..6")):
        with pytest.raises(ConfigError, match=words):
            parse_policy(bad)


def test_the_schema_validates_the_policy(tmp_path):
    from pipeline.core.config import validate_config

    base = {"sources": {"vocals": {"type": "demo", "root": "x"},
                        "accompaniments": {"type": "demo", "root": "x"}}}
    for good in ("strict", "authors", [{"name": "a", "shift": {"max_stretch_percent": 5}}]):
        validate_config({**base, "mashup": {"policy": good}})
    for bad in ("loose", [{"tempo_tolerance_bpm": 1}], [{"name": "a", "any": True}]):
        with pytest.raises(ConfigError, match="policy"):
            validate_config({**base, "mashup": {"policy": bad}})


def test_chunking_the_windows_changes_nothing(monkeypatch):
    import pipeline.mashup.join as join

    w, s, t, split = _fixture()
    kw = dict(seed=11, policy=LOOSE, max_segment_uses=2, key_change_margin_s=-3.0)
    whole = join_windows(w, s, t, split, **kw)
    monkeypatch.setattr(join, "CHUNK_WINDOWS", 7)
    parts = join_windows(w, s, t, split, **kw)
    pd.testing.assert_frame_equal(whole.pairs, parts.pairs)
    pd.testing.assert_frame_equal(whole.unmatched, parts.unmatched)
    pd.testing.assert_frame_equal(whole.usage, parts.usage)


def test_the_join_reserves_what_the_shifter_reads():
    from pipeline.mashup import shift

    for ratio, semitones in ((1.0, 2), (1.05, 0), (0.93, -3), (1.2, 1)):
        assert input_samples([ratio], [semitones])[0] == shift.input_samples(ratio, SEGMENT_SAMPLES)
    assert input_samples([1.0], [0])[0] == SEGMENT_SAMPLES  # identity: the segment as read
