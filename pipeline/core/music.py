"""Key names and indices shared by every stage.

A key is an integer 0..23: 0..11 are C major .. B major (tonic pitch class), 12..23 are
C minor .. B minor.  Names are spelt with sharps: "C# minor".

>>> key_index("Eb major"), key_name(3)
(3, 'D# major')
>>> key_name(relative_key(key_index("C major")))
'A minor'
"""

from .errors import ParameterError

__all__ = ["KEY_NAMES", "PITCH_CLASSES", "is_minor", "key_index", "key_name", "relative_key",
           "scale_pitch_classes", "tonic"]

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KEY_NAMES = tuple(f"{pc} major" for pc in PITCH_CLASSES) + tuple(
    f"{pc} minor" for pc in PITCH_CLASSES
)
_FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E",
          "E#": "F", "B#": "C"}


def key_name(key: int) -> str:
    """Name of key index ``key`` (0..23), e.g. 13 -> "C# minor"."""
    return KEY_NAMES[int(key)]


def key_index(name: str) -> int:
    """Index of a key name such as "C# minor", "Eb major" or "a minor" (case-insensitive mode)."""
    parts = str(name).strip().split()
    if len(parts) != 2 or parts[1].lower() not in ("major", "minor"):
        raise ParameterError(f"not a key name: {name!r} (expected e.g. 'C# minor')")
    tonic = parts[0][0].upper() + parts[0][1:]
    tonic = _FLATS.get(tonic, tonic)
    if tonic not in PITCH_CLASSES:
        raise ParameterError(f"not a key name: {name!r}")
    return PITCH_CLASSES.index(tonic) + (12 if parts[1].lower() == "minor" else 0)


def tonic(key: int) -> int:
    """Tonic pitch class (0..11) of key index ``key``."""
    return int(key) % 12


def is_minor(key: int) -> bool:
    return int(key) >= 12


def relative_key(key: int) -> int:
    """Relative major/minor: C major (0) <-> A minor (21)."""
    key = int(key)
    return (key + 9) % 12 + 12 if key < 12 else (key - 12 + 3) % 12


def scale_pitch_classes(key: int) -> tuple[int, ...]:
    """Pitch classes of the key's scale (natural minor for minor keys)."""
    steps = (0, 2, 4, 5, 7, 9, 11) if key < 12 else (0, 2, 3, 5, 7, 8, 10)
    return tuple((tonic(key) + s) % 12 for s in steps)
