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
