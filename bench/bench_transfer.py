"""How far the trained networks transfer to voices our demo generator did not make.

The "singers" are espeak-ng voice variants (formant synthesis: another synthesiser, other
vocal-tract models); each sings ``--songs`` songs: seeded lyrics whose words carry a seeded
melody (SSML pitch steps), at a seeded base pitch and rate, so that neither pitch nor text
identifies a voice.  The songs are evaluated twice with the song evaluation of the DAG
(``pipeline.evaluate.songs``: leave-one-out nearest singer centroid, top-1 / top-5 with a
95% bootstrap interval over query songs): a-cappella through each model's mono branch, and
mixed whole at 0 dB with the demo corpus's test accompaniments through the mixed branch.  The
MFCC mean+std nearest-centroid baseline is scored identically.

Needs the Debian package ``espeak-ng`` and a folder of trained models (a demo run's
``results/models/<version>``) with the demo corpus it was trained on (its accompaniments).

    python bench/bench_transfer.py --models results/models/<version> --demo results/demo \
        [--voices 12] [--songs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.core.audio import load_audio  # noqa: E402
from pipeline.core.random import rng_for  # noqa: E402
from pipeline.core.segment import SAMPLE_RATE  # noqa: E402
from pipeline.evaluate.demo_songs import mix_song, write_wav  # noqa: E402
from pipeline.evaluate.intervals import Bootstrap  # noqa: E402
from pipeline.evaluate.models import load_models  # noqa: E402
from pipeline.evaluate.songs import (  # noqa: E402
    SongsParams,
    embed_songs,
    read_songs,
    songs_table,
)
from pipeline.sources.accompaniments import (  # noqa: E402
    AccompanimentSource,
    accompaniment_candidates,
    load_accompaniment,
)

# espeak-ng's own variants (no MBROLA): male, female and character voices
VOICES = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "Alicia",
          "Andy", "belinda", "benjamin", "david", "linda", "paul", "steph"]
WORDS = ("light rain falls over the morning sea and the long road home is calling me "
         "under silver skies we walk alone singing softly of a place we know every river "
         "runs to the ocean wide hold my hand tonight and stay by my side").split()
STEPS = [-30, -20, -10, 0, 10, 20, 35, 50]  # melody notes: SSML pitch offsets (%)


def lyrics_ssml(seed: int, voice: str, song: int, *, words: int = 36) -> str:
    """Seeded lyrics with one melody note (a relative SSML pitch) per word."""
    rng = rng_for(seed, "transfer-lyrics", voice, song)
    picked = rng.choice(WORDS, size=words)
    notes = rng.choice(STEPS, size=words)
    body = " ".join(f'<prosody pitch="{n:+d}%">{w}</prosody>' for w, n in zip(picked, notes))
    return f'<speak><prosody rate="75%">{body}</prosody></speak>'


def sing(path: Path, voice: str, song: int, *, seed: int) -> None:
    """Render one song with espeak-ng at a seeded base pitch (-p) and speed (-s)."""
    rng = rng_for(seed, "transfer-voice", voice, song)
    pitch, speed = int(rng.integers(30, 71)), int(rng.integers(120, 166))
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-m", "-v", f"en+{voice}", "-p", str(pitch), "-s", str(speed),
                    "-w", str(path), lyrics_ssml(seed, voice, song)], check=True,
                   capture_output=True)


def write_songs(root: Path, *, voices, songs: int, seed: int, accompaniments: pd.DataFrame
                ) -> tuple[Path, Path, float]:
    """A-cappella songs under root/acappella, mixed ones under root/mixed; total seconds."""
    mono, mixed = root / "acappella", root / "mixed"
    accs = [load_accompaniment(row) for _, row in accompaniments.iterrows()]
    seconds = 0.0
    for voice in voices:
        for j in range(songs):
            raw = root / "raw" / voice / f"song {j}.wav"
            sing(raw, voice, j, seed=seed)
            y = load_audio(raw)  # 22,050 Hz mono
            seconds += len(y) / SAMPLE_RATE
            write_wav(mono / voice / f"song {j}.wav", y)
            acc = accs[int(rng_for(seed, "transfer-acc", voice, j).integers(len(accs)))]
            write_wav(mixed / voice / f"song {j}.wav", mix_song(y, acc, snr_db=0.0))
    return mono, mixed, seconds


def evaluate(folder: Path, models: dict, *, domain: str, boot: Bootstrap):
    songs = read_songs(folder)
    start = time.perf_counter()
    vectors, kept, skipped = embed_songs(songs, models, params=SongsParams(domain=domain))
    seconds = time.perf_counter() - start
    table, _ = songs_table(kept, vectors, boot=boot)
    return table, len(kept), len(skipped), seconds


def cell(table: pd.DataFrame, model: str, pretrained: bool, metric: str) -> str:
    row = table[(table["model"] == model) & (table["pretrained"] == pretrained)
                & (table["metric"] == metric)]
    if row.empty:
        return "-"
    r = row.iloc[0]
    if np.isnan(r["ci_low"]):
        return f"{r['value']:.2f}"
    return f"{r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"


def markdown(tables: dict) -> str:
    """model | init | then top-1 and top-5 per condition."""
    conditions = list(tables)
    head = "| model | init | " + " | ".join(f"{c} top-1 | {c} top-5" for c in conditions) + " |"
    lines = [head, "|---|---|" + "---:|" * (2 * len(conditions))]
    keys = [(m, p) for m in ("MONO", "MIXED", "CROSS") for p in (True, False)]
    keys += [("MFCC", False), ("chance", False)]
    for model, pretrained in keys:
        init = ("pre-trained" if pretrained else "scratch") if model in ("MONO", "MIXED",
                                                                          "CROSS") else "-"
        cells = [cell(tables[c], model, pretrained, m) for c in conditions
                 for m in ("top1", "top5")]
        if all(c == "-" for c in cells):  # a model the run did not train
            continue
        lines.append(f"| {model} | {init} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", required=True, type=Path,
                        help="folder of <kind>-<init>/model.pt (a run's models/<version>)")
    parser.add_argument("--demo", required=True, type=Path,
                        help="the demo corpus root (its musdb test accompaniments)")
    parser.add_argument("--voices", type=int, default=12, help=f"voices (max {len(VOICES)})")
    parser.add_argument("--songs", type=int, default=5, help="songs per voice")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the songs in this folder")
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        print("espeak-ng not found (Debian package espeak-ng)", file=sys.stderr)
        return 2
    paths = sorted(p for p in args.models.glob("*-*/model.pt")
                   if not p.parent.name.startswith("pretrain"))
    models = load_models(paths)
    accs, _ = accompaniment_candidates(AccompanimentSource(root=str(args.demo)))
    accs = accs[accs["split"] == "test"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="transfer-"))
    start = time.perf_counter()
    mono, mixed, seconds = write_songs(root, voices=VOICES[:args.voices], songs=args.songs,
                                       seed=args.seed, accompaniments=accs)
    print(f"{args.voices} voices x {args.songs} songs, {seconds:.0f} s of audio, rendered and "
          f"mixed in {time.perf_counter() - start:.1f} s")
    boot = Bootstrap(resamples=1000, level=0.95, seed=args.seed)
    tables = {}
    for name, folder, domain in (("a-cappella", mono, "mono"), ("mixed", mixed, "mix")):
        table, kept, skipped, wall = evaluate(folder, models, domain=domain, boot=boot)
        tables[name] = table
        print(f"{name}: {kept} songs embedded ({skipped} skipped) by {len(models)} models + "
              f"MFCC in {wall:.1f} s ({seconds / wall:.1f}x realtime for all models, one "
              "process)")
    print()
    print(markdown(tables))
    print(f"\nchance top-1 = 1/{args.voices}; brackets: {boot.describe()} (query songs).")
    if not args.keep:
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
