import pandas as pd

from pipeline.report.accounting import account, summary


def test_every_input_has_one_row_and_counts_add_up():
    vocals = pd.DataFrame({"id": ["a", "b", "c", "d"], "path": list("ABCD")})
    acc = pd.DataFrame({"id": ["t1", "t2"], "path": ["T1", "T2"]})
    skipped = pd.DataFrame([
        {"corpus": "vocals", "path": "B", "id": "b", "stage": "analysis", "reason": "silent", "detail": ""},
        {"corpus": "vocals", "path": "Z", "id": "z", "stage": "ingest", "reason": "empty file", "detail": ""},
    ])
    split = pd.DataFrame({"id": ["a", "b", "c", "d"], "subset": ["train", "train", "unused", "train"]})
    index = pd.DataFrame({"perf_id": ["a", "a"], "acc_track": ["t1", "t1"]})
    table = account(vocals, acc, skipped, split, index)
    assert len(table) == 4 + 2 + 1
    status = dict(zip(table["id"], zip(table["status"], table["stage"], table["reason"])))
    assert status["a"] == ("used", "", "")
    assert status["b"] == ("skipped", "analysis", "silent")
    assert status["c"][1] == "split"
    assert status["d"] == ("skipped", "join", "no mashable accompaniment segment")
    assert status["z"] == ("skipped", "ingest", "empty file")
    assert status["t2"][0] == "skipped" and status["t1"][0] == "used"
    assert summary(table)["files"].sum() == len(table)


def test_a_performance_without_pairs_gets_its_windows_reasons():
    vocals = pd.DataFrame({"id": ["a", "d"], "path": ["A", "D"]})
    acc = pd.DataFrame({"id": ["t1"], "path": ["T1"]})
    split = pd.DataFrame({"id": ["a", "d"], "subset": ["train", "train"]})
    index = pd.DataFrame({"perf_id": ["a"], "acc_track": ["t1"]})
    unmatched = pd.DataFrame({"perf_id": ["d", "d", "d"],
                              "reason": ["ambiguous key", "ambiguous key", "no key match"]})
    table = account(vocals, acc, pd.DataFrame(), split, index, unmatched).set_index("id")
    assert table.loc["d", "reason"] == "ambiguous key"
    assert table.loc["d", "detail"] == "2 windows ambiguous key, 1 windows no key match"
    assert table.loc["a", "status"] == "used"


def test_a_performance_lost_at_mixing_names_the_mix_stage_and_its_reason():
    """Its windows were paired, but every pair failed to mix: not a join problem."""
    vocals = pd.DataFrame({"id": ["a", "e"], "path": ["A", "E"]})
    acc = pd.DataFrame({"id": ["t1"], "path": ["T1"]})
    split = pd.DataFrame({"id": ["a", "e"], "subset": ["train", "train"]})
    index = pd.DataFrame({"perf_id": ["a"], "acc_track": ["t1"]})
    unmatched = pd.DataFrame({"perf_id": ["e"], "reason": ["no key match"]})
    mix_skipped = pd.DataFrame({"segment_id": ["e-w000-m0", "e-w001-m0", "e-w002-m0"],
                                "perf_id": ["e"] * 3, "path": ["E"] * 3,
                                "reason": ["undecodable", "undecodable", "silent"],
                                "detail": ["", "", ""]})
    table = account(vocals, acc, pd.DataFrame(), split, index, unmatched,
                    mix_skipped).set_index("id")
    assert (table.loc["e", "stage"], table.loc["e", "reason"]) == ("mix", "undecodable")
    assert table.loc["e", "detail"] == "2 segments undecodable, 1 segments silent"


def test_a_performance_the_join_could_not_pair_is_a_join_loss_even_when_unused():
    """The split is drawn among paired performances, so an unpaired one is "unused"; its
    windows' reasons (kept from the first join) say why, not the split."""
    vocals = pd.DataFrame({"id": ["a", "f", "g"], "path": ["A", "F", "G"]})
    acc = pd.DataFrame({"id": ["t1"], "path": ["T1"]})
    split = pd.DataFrame({"id": ["a", "f", "g"], "subset": ["train", "unused", "unused"]})
    index = pd.DataFrame({"perf_id": ["a"], "acc_track": ["t1"]})
    unmatched = pd.DataFrame({"perf_id": ["f", "f", "g"],
                              "reason": ["no tempo match", "no key match", "not in split"]})
    table = account(vocals, acc, pd.DataFrame(), split, index, unmatched).set_index("id")
    assert (table.loc["f", "stage"], table.loc["f", "reason"]) == ("join", "no tempo match")
    assert (table.loc["g", "stage"], table.loc["g", "reason"]) == ("split", "singer not selected")
