"""Render and write the demo corpus in the layout of docs/tables.md ("Demo corpus").

Items are rendered in a pool of worker processes; each item's randomness comes from the
global seed and its own id, so the bytes do not depend on the number of workers or the
order of completion.  Every file is written atomically; ``corpus.json`` is written last and
marks the corpus as complete.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import soxr
from tqdm import tqdm

from ..core.atomic import write_json, write_parquet, write_text
from ..core.music import key_name
from ..core.random import rng_for
from .accompaniment import STEMS, render_track
from .channel import add_noise_floor, apply_channel, draw_channel, draw_phone_cut, own_phone
from .consonants import add_consonants, draw_diction
from .environment import add_room_tone, draw_environment, place
from .melody import compose_song, perform
from .params import DemoParams
from .plan import (
    PerformancePlan,
    TrackPlan,
    covered_pairs,
    plan_performances,
    plan_songs,
    plan_tracks,
)
from .voice import draw_singer, sing
from .writers import write_aac, write_wav

__all__ = ["FORMAT_VERSION", "SR", "VOICE_SR", "generate_corpus", "render_accompaniment",
           "render_performance", "synthesise_performance"]

log = logging.getLogger(__name__)

SR = 44100
VOICE_SR = 22050  # voices are synthesised at the analysis rate, then resampled to SR
FORMAT_VERSION = 1


def generate_corpus(out_dir, params: DemoParams = DemoParams(), *, workers: int = 2) -> dict:
    """Write the demo corpus under ``out_dir``; return the summary also saved as corpus.json.

    Parameters
    ----------
    out_dir : path
        Corpus root (created).  Existing files of the same names are replaced.
    params : DemoParams
    workers : int
        Worker processes (1: render in this process).  Does not change the output.
    """
    out = Path(out_dir)
    (out / "corpus.json").unlink(missing_ok=True)  # not done until rewritten
    tracks = plan_tracks(params)
    pairs = covered_pairs(tracks)
    perfs = plan_performances(params, plan_songs(params, pairs))
    jobs = [("track", t, params, str(out)) for t in tracks]
    jobs += [("perf", p, params, str(out)) for p in perfs]
    jobs.sort(key=_cost, reverse=True)  # longest first keeps both workers busy to the end
    rows = {"track": [], "perf": []}
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap_unordered(_render, jobs, chunksize=1)
            for kind, row in tqdm(results, total=len(jobs), desc="demo corpus", disable=None):
                rows[kind].append(row)
    else:
        for job in tqdm(jobs, desc="demo corpus", disable=None):
            kind, row = _render(job)
            rows[kind].append(row)
    vocals = pd.DataFrame(rows["perf"]).sort_values("perf_key", ignore_index=True)
    accompaniments = pd.DataFrame(rows["track"]).sort_values("track", ignore_index=True)
    write_text(out / "damp/perfs.csv", vocals[["perf_key", "singer", "song"]].rename(
        columns={"singer": "user_id", "song": "song_id"}).to_csv(index=False))
    write_text(out / "damp/tempo.csv", vocals[["perf_key", "tempo_bpm"]].to_csv(index=False))
    write_parquet(out / "truth/vocals.parquet", vocals)
    write_parquet(out / "truth/accompaniments.parquet", accompaniments)
    _remove_stale(out, set(vocals["path"]) | set(accompaniments["path"]))
    summary = {
        "format_version": FORMAT_VERSION, "seed": params.seed,
        "params": dataclasses.asdict(params), "sample_rate": SR,
        "singers": int(vocals["singer"].nunique()), "songs": int(vocals["song"].nunique()),
        "performances": len(vocals), "m4a": int(vocals["path"].str.endswith(".m4a").sum()),
        "vocal_seconds": float(vocals["duration_s"].sum()),
        "tracks": len(accompaniments),
        "stems_tracks": int((accompaniments["format"] == "stems").sum()),
        "accompaniment_seconds": float(accompaniments["duration_s"].sum()),
        "mashable_pairs": [[t, key_name(k)] for t, k in pairs],
    }
    write_json(out / "corpus.json", summary)
    log.info("demo corpus: %d performances by %d singers, %d accompaniments -> %s",
             summary["performances"], summary["singers"], summary["tracks"], out)
    return summary


def _remove_stale(out: Path, written: set[str]) -> None:
    """Delete audio left in ``out`` by an earlier, different corpus (ingest would find it)."""
    stale = [p for p in sorted((out / "damp/audio").glob("*")) if p.is_file()]
    stale += sorted((out / "musdb").glob("*/*"))
    for path in stale:
        if str(path.relative_to(out)) in written:
            continue
        log.warning("removing stale demo file %s", path)
        if path.is_dir():
            for f in path.iterdir():
                f.unlink()
            path.rmdir()
        else:
            path.unlink()


def _cost(job) -> float:
    kind, plan = job[0], job[1]
    if kind == "track":
        return 3.0 * plan.section_s * len(plan.section_keys)
    return plan.duration_s


def _render(job) -> tuple[str, dict]:
    kind, plan, params, out = job
    if kind == "track":
        return kind, render_accompaniment(plan, params, Path(out))
    return kind, render_performance(plan, params, Path(out))


def synthesise_performance(plan: PerformancePlan, params: DemoParams):
    """One a-cappella performance: float32 samples (n,) at ``SR`` and its truth row."""
    song = plan.song
    max_beats = int(params.duration_s[1] * song.tempo_bpm / 60.0) + 8
    melody = compose_song(song_id=song.song_id, key=song.key, tempo_bpm=song.tempo_bpm,
                          n_beats=max_beats, rng=rng_for(params.seed, "song", song.song_id))
    singer = draw_singer(rng_for(params.seed, "singer", plan.user_id),
                         formant_spread=params.formant_spread)
    rng = rng_for(params.seed, "render", plan.perf_key)
    timeline = perform(melody, duration_s=plan.duration_s, centre_midi=singer.centre_midi,
                       lead_in_s=plan.lead_in_s, rng=rng)
    channel = draw_channel(rng, strength=params.channel_strength)
    if params.singer_phone:  # own streams: False leaves every byte as it was
        cut = draw_phone_cut(rng_for(params.seed, "phone", plan.user_id),
                             strength=params.channel_strength)
        channel = own_phone(channel, cut, rng=rng_for(params.seed, "phone-jitter", plan.perf_key))
    voice = sing(timeline, singer, sr=VOICE_SR, rng=rng)
    if params.consonant_strength > 0:  # own streams: strength 0 leaves every byte as it was
        diction = draw_diction(rng_for(params.seed, "diction", plan.user_id))
        diction = dataclasses.replace(diction, level_db=diction.level_db + 20 * np.log10(
            params.consonant_strength))
        voice = add_consonants(voice, timeline, diction, sr=VOICE_SR,
                               rng=rng_for(params.seed, "consonants", plan.perf_key))
    if params.environment_strength > 0:  # own streams: strength 0 leaves every byte as it was
        home = draw_environment(rng_for(params.seed, "environment", plan.user_id))
        here = rng_for(params.seed, "placement", plan.perf_key)
        channel, snr_db = place(channel, home, strength=params.environment_strength, rng=here)
        voice = add_room_tone(voice, home, snr_db=snr_db - 20 * np.log10(
            params.environment_strength), sr=VOICE_SR, rng=here)
    voice = apply_channel(voice, channel, sr=VOICE_SR, rng=rng)
    y = add_noise_floor(soxr.resample(voice, VOICE_SR, SR, quality="HQ"), channel, rng=rng)
    truth = {
        "perf_key": plan.perf_key, "singer": plan.user_id, "song": song.song_id,
        "path": f"damp/audio/{plan.perf_key}.{plan.format}", "key": key_name(song.key),
        "tempo_bpm": song.tempo_bpm, "beat_times_s": timeline.beat_times_s.tolist(),
        "voiced_start_s": timeline.voiced_start_s.tolist(),
        "voiced_end_s": timeline.voiced_end_s.tolist(), "duration_s": len(y) / SR,
    }
    return y, truth


def render_performance(plan: PerformancePlan, params: DemoParams, out: Path) -> dict:
    """Synthesise and write one a-cappella performance; return its truth row."""
    y, truth = synthesise_performance(plan, params)
    if plan.format == "m4a":
        write_aac(out / truth["path"], [y], sr=SR, container="ipod")
    else:
        write_wav(out / truth["path"], y, sr=SR)
    return truth


def render_accompaniment(plan: TrackPlan, params: DemoParams, out: Path) -> dict:
    """Synthesise, write and describe one accompaniment track (a truth row)."""
    stems, truth = render_track(plan, sr=SR, rng=rng_for(params.seed, "track", plan.name))
    if plan.format == "stems":
        rel = f"musdb/{plan.split}/{plan.name}.stem.mp4"
        write_aac(out / rel, [stems[name] for name in STEMS], sr=SR, container="mp4")
    else:
        rel = f"musdb/{plan.split}/{plan.name}"
        for name in STEMS:
            write_wav(out / rel / f"{name}.wav", stems[name], sr=SR)
    return {"track": plan.name, "split": plan.split, "format": plan.format, "path": rel, **truth}
