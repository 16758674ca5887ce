"""Shard values do not depend on the machine: batch size, threads, BLAS kernel, numpy SIMD.

Each case runs in a fresh interpreter, because BLAS kernels and numpy's SIMD level are
chosen once, at import, from ``OPENBLAS_CORETYPE`` and ``NPY_DISABLE_CPU_FEATURES``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FEATURES = """
import hashlib, json, sys
import numpy as np
from pipeline.dataset.features import log_mel
rng = np.random.default_rng(0)
n, samples = 64, 65536
x = rng.standard_normal((n, samples)).astype(np.float32) * rng.uniform(1e-4, 1.0, (n, 1))
x[:8] *= np.sin(np.linspace(0, 300, samples))  # tonal and quiet rows too
out = {}
for b in map(int, sys.argv[1:]):
    mel = log_mel(x, batch_size=b, dtype=np.float16)
    out[b] = hashlib.sha256(mel.tobytes()).hexdigest()
print(json.dumps(out))
"""

MACHINES = {  # another machine's arithmetic, emulated
    "native": {},
    "prescott-blas": {"OPENBLAS_CORETYPE": "Prescott"},
    "haswell-blas-no-avx512": {"OPENBLAS_CORETYPE": "Haswell",
                               "NPY_DISABLE_CPU_FEATURES": "AVX512_ICL X86_V4"},
    "baseline-simd-2-threads": {"NPY_DISABLE_CPU_FEATURES": "AVX512_ICL X86_V4 X86_V3",
                                "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"},
}


def run(script: str, env_extra: dict, *args) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")}
    env.update({"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}, **env_extra)
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def feature_hashes():
    return {name: run(FEATURES, env, 1, 7, 64) for name, env in MACHINES.items()}


def test_float16_log_mel_bytes_do_not_depend_on_batch_size(feature_hashes):
    for name, by_batch in feature_hashes.items():
        assert len(set(by_batch.values())) == 1, (name, by_batch)


def test_float16_log_mel_bytes_do_not_depend_on_blas_kernel_simd_or_threads(feature_hashes):
    assert len({h for by_batch in feature_hashes.values() for h in by_batch.values()}) == 1, \
        feature_hashes


def test_the_environment_really_changes_the_kernels():
    """The emulated machines are other machines: BLAS core and numpy SIMD level differ."""
    probe = ("import json, numpy as np; "
             "import threadpoolctl as t; info = t.threadpool_info(); "
             "from numpy._core._multiarray_umath import __cpu_features__ as f; "
             "print(json.dumps({'blas': [i.get('architecture') for i in info], "
             "'x86_v3': bool(f.get('X86_V3', f.get('AVX2')))}))")
    pytest.importorskip("threadpoolctl")
    seen = {name: run(probe, env) for name, env in MACHINES.items()}
    assert len({tuple(s["blas"]) for s in seen.values()}) >= 2, seen
    assert not seen["baseline-simd-2-threads"]["x86_v3"]


DECODE = """
import ctypes, glob, hashlib, json, sys
import av
import numpy as np
flags = sys.argv[2]
if flags != "default":  # another CPU, as FFmpeg sees it: no SIMD kernels at all
    lib = glob.glob(av.__file__.rsplit("/", 2)[0] + "/av.libs/libavutil-*.so*")[0]
    ctypes.CDLL(lib).av_force_cpu_flags(int(flags))
from pipeline.core.audio import load_audio
y = load_audio(sys.argv[1])
print(json.dumps({"sha": hashlib.sha256(y.tobytes()).hexdigest(), "n": len(y)}))
"""

RAW_FLOAT_AAC = """
import ctypes, glob, hashlib, json, sys
import av
import numpy as np
if sys.argv[2] != "default":
    lib = glob.glob(av.__file__.rsplit("/", 2)[0] + "/av.libs/libavutil-*.so*")[0]
    ctypes.CDLL(lib).av_force_cpu_flags(int(sys.argv[2]))
with av.open(sys.argv[1]) as c:
    y = np.concatenate([f.to_ndarray() for f in c.decode(c.streams.audio[0])], axis=1)
print(json.dumps({"sha": hashlib.sha256(y.tobytes()).hexdigest()}))
"""


@pytest.fixture(scope="module")
def aac_file(tmp_path_factory):
    import numpy as np
    from audio_fixtures import write_aac

    t = np.arange(44100 * 4) / 44100
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2
    y = (y + 0.05 * np.random.default_rng(1).standard_normal(len(t))).astype(np.float32)
    return write_aac(tmp_path_factory.mktemp("aac") / "take 1 (2).m4a", [y[:, None]], sr=44100)


def test_decoded_and_resampled_aac_does_not_depend_on_cpu_simd(aac_file):
    """AAC decode + soxr resampling give the same samples with and without SIMD kernels,
    and with soxr's SIMD engine asked for in the environment (it is overridden)."""
    default = run(DECODE, {}, aac_file, "default")
    no_simd = run(DECODE, {}, aac_file, "0")
    soxr_simd = run(DECODE, {"SOXR_USE_SIMD": "1"}, aac_file, "default")
    assert default == no_simd == soxr_simd and default["n"] > 80000


def test_ffmpeg_float_aac_decoder_does_depend_on_cpu_simd(aac_file):
    """Why the integer decoder: FFmpeg's float AAC decoder rounds differently without SIMD."""
    assert run(RAW_FLOAT_AAC, {}, aac_file, "default") != run(RAW_FLOAT_AAC, {}, aac_file, "0")


MIXING = """
import hashlib, json
import numpy as np
from pipeline.core.signal import frame_rms
from pipeline.mashup.mixing import mix_pair
rng = np.random.default_rng(2)
h = hashlib.sha256()
for i in range(24):
    v = (rng.standard_normal(65536) * rng.uniform(0.01, 0.5)).astype(np.float32)
    a = (rng.standard_normal(65536) * rng.uniform(0.01, 0.5)).astype(np.float32)
    r = mix_pair(v, a, snr_db=float(rng.uniform(-5, 10)))
    h.update(r.mix.tobytes())
    h.update(np.array([r.vocal_gain, r.acc_gain, r.snr_db]).tobytes())
    h.update(frame_rms(v).tobytes())
print(json.dumps({"sha": h.hexdigest()}))
"""


def test_mix_gains_and_frame_rms_do_not_depend_on_blas_or_simd():
    hashes = {name: run(MIXING, env)["sha"] for name, env in MACHINES.items()}
    assert len(set(hashes.values())) == 1, hashes
