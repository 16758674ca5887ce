"""Final accounting: every input file, used or skipped, with the stage and reason.

One row per input of either corpus.  An input is "used" when at least one of its segments
reached the dataset; otherwise its status is "skipped" with the first stage that dropped it
(ingest, analysis, split, join, mix) and why.  The counts add up to the number of inputs.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["COLUMNS", "account", "read_tables", "summary"]

COLUMNS = ["corpus", "id", "path", "status", "stage", "reason", "detail", "segments"]


def read_tables(paths) -> pd.DataFrame:
    """The rows of every non-empty Parquet table in ``paths``, concatenated."""
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def account(vocals: pd.DataFrame, accompaniments: pd.DataFrame, skipped: pd.DataFrame,
            split: pd.DataFrame, index: pd.DataFrame,
            unmatched: pd.DataFrame | None = None,
            mix_skipped: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the accounting table from manifests, skip tables, the split and the dataset index.

    ``skipped`` holds every skip record (ingest and analysis); ``index`` the dataset's rows;
    ``unmatched`` the join's unmatched windows, whose reasons name why a performance none of
    whose windows was paired was dropped; ``mix_skipped`` the mix stage's skipped segments
    (decode errors, silent or short segments), which name why a performance whose pairs all
    failed to mix was dropped.
    """
    why = _reasons(unmatched, "windows")
    mix_why = _reasons(mix_skipped, "segments")
    rows = []
    skip_by = {}
    for rec in skipped.to_dict("records"):
        skip_by.setdefault((rec["corpus"], str(rec["id"])), rec)
    per_perf = index.groupby("perf_id").size() if not index.empty else pd.Series(dtype=int)
    per_track = index.groupby("acc_track").size() if not index.empty else pd.Series(dtype=int)
    subset = dict(zip(split["id"], split["subset"])) if not split.empty else {}

    for corpus, manifest, used in (("vocals", vocals, per_perf),
                                   ("accompaniments", accompaniments, per_track)):
        for rec in manifest.to_dict("records"):
            n = int(used.get(rec["id"], 0))
            base = {"corpus": corpus, "id": rec["id"], "path": rec["path"], "segments": n}
            if n > 0:
                rows.append({**base, "status": "used", "stage": "", "reason": "", "detail": ""})
            elif (corpus, rec["id"]) in skip_by:
                s = skip_by.pop((corpus, rec["id"]))
                rows.append({**base, "status": "skipped", "stage": s["stage"],
                             "reason": s["reason"], "detail": s.get("detail", "")})
            elif corpus == "vocals" and subset.get(rec["id"], "unused") == "unused" and \
                    why.get(rec["id"], ("not in split",))[0] == "not in split":
                # left out by the split; a performance the join could not pair is "unused"
                # too, but its windows carry the join's reasons (pipeline.mashup.split_join)
                rows.append({**base, "status": "skipped", "stage": "split",
                             "reason": "singer not selected", "detail": ""})
            elif corpus == "vocals" and rec["id"] in mix_why:
                reason, detail = mix_why[rec["id"]]
                rows.append({**base, "status": "skipped", "stage": "mix", "reason": reason,
                             "detail": detail})
            elif corpus == "vocals" and rec["id"] in why:
                reason, detail = why[rec["id"]]
                rows.append({**base, "status": "skipped", "stage": "join", "reason": reason,
                             "detail": detail})
            else:
                reason = ("no mashable accompaniment segment" if corpus == "vocals"
                          else "no segment chosen by the join")
                rows.append({**base, "status": "skipped", "stage": "join", "reason": reason,
                             "detail": ""})
    # Files skipped before they reached a manifest (ingest).
    for (corpus, _id), s in sorted(skip_by.items()):
        rows.append({"corpus": corpus, "id": _id, "path": s["path"], "status": "skipped",
                     "stage": s["stage"], "reason": s["reason"], "detail": s.get("detail", ""),
                     "segments": 0})
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["corpus", "id"], kind="stable").reset_index(drop=True)


def _reasons(table: pd.DataFrame | None, unit: str) -> dict:
    """perf_id -> (most frequent reason, "n <unit> <reason>, ...") of a skip or unmatched table."""
    out = {}
    if table is None or table.empty:
        return out
    for perf, reasons in table.groupby("perf_id")["reason"]:
        counts = reasons.value_counts()
        out[perf] = (str(counts.index[0]), ", ".join(f"{n} {unit} {r}" for r, n in counts.items()))
    return out


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Counts per corpus, status, stage and reason."""
    return (table.groupby(["corpus", "status", "stage", "reason"], dropna=False)
            .size().rename("files").reset_index())
