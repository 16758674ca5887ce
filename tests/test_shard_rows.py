"""Every shard row is the log-mel of the audio its index row names (issue: row order).

Performance ids that are prefixes of one another, followed by characters that sort before
the segment id's separator ("take1" / "take1-2" / "take1 (2)" / "take1+3"), put segment_id
order and performance order at odds; the arrays and the index must still agree row by row.
"""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from pipeline.core.errors import ParameterError
from pipeline.core.segment import SAMPLE_RATE, SEGMENT_SAMPLES
from pipeline.dataset.features import FeatureParams, log_mel
from pipeline.mashup.mix import MashupParams, mix_pairs, mix_pairs_at, mix_shard

PERFS = ["take1", "take1-2", "take1 (2)", "take1+3", "take10"]


class Accompaniments:
    def __init__(self, rng):
        self.audio = {"t0": (0.2 * rng.standard_normal(SAMPLE_RATE * 20)).astype(np.float32)}

    def segment(self, track, start):
        return self.audio[track][start:start + SEGMENT_SAMPLES]


def _pairs():
    rows = []
    for p, perf in enumerate(PERFS):
        for w in range(2):
            for m in range(2):
                rows.append({"segment_id": f"{perf}-w{w:03d}-m{m}", "perf_id": perf,
                             "singer": f"s{p % 2}", "song": "x", "subset": "train",
                             "window_index": w, "mix_index": m, "vocal_start": 512 * (40 * w + p),
                             "acc_track": "t0", "acc_start": 512 * (30 * m + 7 * p + w),
                             "acc_beat_index": 0, "tempo_bpm": 100.0, "acc_tempo_bpm": 100.0,
                             "key": 3, "acc_key": 3})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=3)  # any input order


def test_ids_that_sort_differently_as_segment_ids_keep_rows_aligned(rng):
    vocals = {perf: (0.1 * (p + 1) * rng.standard_normal(SAMPLE_RATE * 10)).astype(np.float32)
              for p, perf in enumerate(PERFS)}
    acc = Accompaniments(rng)
    features = FeatureParams(batch_size=3)
    mono, mix, index, skipped, _ = mix_pairs(_pairs(), load_vocal=vocals.__getitem__,
                                             accompaniments=acc, params=MashupParams(),
                                             features=features)
    assert len(skipped) == 0 and len(index) == len(mono) == len(mix) == 4 * len(PERFS)
    assert list(index["segment_id"]) == sorted(index["segment_id"])
    assert sorted(index["segment_id"]) != [f"{p}-w{w:03d}-m{m}" for p in sorted(PERFS)
                                           for w in range(2) for m in range(2)]  # orders differ
    for j, row in index.iterrows():
        start = int(row["vocal_start"])
        vocal = vocals[row["perf_id"]][start:start + SEGMENT_SAMPLES]
        expect_mono = log_mel(vocal[None], **dataclasses.asdict(features), dtype=np.float16)[0]
        np.testing.assert_array_equal(mono[j], expect_mono, err_msg=row["segment_id"])
        a = acc.segment(row["acc_track"], int(row["acc_start"]))
        m = np.float32(row["vocal_gain"]) * vocal + np.float32(row["acc_gain"]) * a
        expect_mix = log_mel(m[None], **dataclasses.asdict(features), dtype=np.float16)[0]
        # the gains are stored rounded to float64 from float32 products: up to one float16 step
        assert np.abs(mix[j].astype(np.float32) - expect_mix.astype(np.float32)).max() <= 2e-3


def test_one_pass_at_several_ratios_equals_one_pass_per_ratio(rng):
    """The SNR sweep mixes every ratio from one decoding: each ratio's bytes are its own pass's."""
    vocals = {perf: (0.1 * (p + 1) * rng.standard_normal(SAMPLE_RATE * 10)).astype(np.float32)
              for p, perf in enumerate(PERFS)}
    vocals["take10"][:] = 0  # silent: skipped at every ratio
    acc, features = Accompaniments(rng), FeatureParams(batch_size=3)
    params = MashupParams(flac_per_singer=1)
    kw = dict(load_vocal=vocals.__getitem__, accompaniments=acc, params=params,
              features=features)
    ratios = [-5.0, 0.0, 7.5]
    mono, mixes, indices, skipped, examples = mix_pairs_at(_pairs(), snr_dbs=ratios, **kw)
    assert len(skipped) == 4 and set(skipped["perf_id"]) == {"take10"}
    for k, snr in enumerate(ratios):
        m1, x1, i1, s1, e1 = mix_pairs(_pairs(), snr_db=snr, **kw)
        assert mono.tobytes() == m1.tobytes() and mixes[k].tobytes() == x1.tobytes()
        pd.testing.assert_frame_equal(indices[k], i1)
        pd.testing.assert_frame_equal(skipped, s1)
        assert examples[k].keys() == e1.keys()
        assert all(np.array_equal(examples[k][s][1], e1[s][1]) for s in e1)
        np.testing.assert_allclose(indices[k]["snr_db"], snr, atol=1e-4)
    assert not np.array_equal(mixes[0], mixes[2])  # the ratios do change the mixes


def test_mix_shard_needs_one_folder_per_ratio(tmp_path):
    pairs = _pairs().assign(vocal_shard=0)
    kw = dict(pairs=pairs, vocal_paths={}, accompaniments=None, shard=0,
              params=MashupParams(), features=FeatureParams())
    with pytest.raises(ParameterError, match=r"2 ratios \(--snr-db\) need as many output folders"):
        mix_shard(out=tmp_path, snr_db=[0.0, 5.0], **kw)
    with pytest.raises(ParameterError, match=r"1 ratios \(--snr-db\) need as many output folders"):
        mix_shard(out=[tmp_path / "a", tmp_path / "b"], **kw)
