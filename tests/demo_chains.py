"""The demo generator's chain spelled out, independently of ``pipeline.demo.corpus``.

A strength-0 knob of the generator (homes, consonants) must leave every byte as it was: the
tests compare ``synthesise_performance`` with the chain of before, written out here once.
"""

import soxr

from pipeline.core.random import rng_for
from pipeline.demo.channel import add_noise_floor, apply_channel, draw_channel
from pipeline.demo.corpus import SR, VOICE_SR
from pipeline.demo.environment import add_room_tone, draw_environment, place
from pipeline.demo.melody import compose_song, perform
from pipeline.demo.plan import covered_pairs, plan_performances, plan_songs, plan_tracks
from pipeline.demo.voice import draw_singer, sing


def plans(params):
    """Every performance plan of ``params``."""
    return plan_performances(params, plan_songs(params, covered_pairs(plan_tracks(params))))


def chain(plan, params, *, homes: bool):
    """One performance as the generator rendered it before the consonants: vowels through
    the channel, with the singer's home (``homes``) or without (before the homes)."""
    song = plan.song
    beats = int(params.duration_s[1] * song.tempo_bpm / 60.0) + 8
    melody = compose_song(song_id=song.song_id, key=song.key, tempo_bpm=song.tempo_bpm,
                          n_beats=beats, rng=rng_for(params.seed, "song", song.song_id))
    singer = draw_singer(rng_for(params.seed, "singer", plan.user_id))
    rng = rng_for(params.seed, "render", plan.perf_key)
    timeline = perform(melody, duration_s=plan.duration_s, centre_midi=singer.centre_midi,
                       lead_in_s=plan.lead_in_s, rng=rng)
    channel = draw_channel(rng, strength=params.channel_strength)
    voice = sing(timeline, singer, sr=VOICE_SR, rng=rng)
    if homes:
        home = draw_environment(rng_for(params.seed, "environment", plan.user_id))
        here = rng_for(params.seed, "placement", plan.perf_key)
        channel, snr_db = place(channel, home, strength=1.0, rng=here)
        voice = add_room_tone(voice, home, snr_db=snr_db, sr=VOICE_SR, rng=here)
    voice = apply_channel(voice, channel, sr=VOICE_SR, rng=rng)
    return add_noise_floor(soxr.resample(voice, VOICE_SR, SR, quality="HQ"), channel, rng=rng)
