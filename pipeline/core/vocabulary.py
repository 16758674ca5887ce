"""The names the whole pipeline shares: data domains, model kinds, initialisations.

A dataset holds two *domains* of the same segments: ``"mono"`` (the a-cappella vocal) and
``"mix"`` (that vocal mixed with an accompaniment).  A model *kind* names what it embeds
(paper 3.2): MONO (a-cappella anchors and targets), MIXED (mixed anchors and targets) and
CROSS (a-cappella anchors against mixed targets); ``"classifier"`` is the pre-training
network of one domain.  Rules, CLI and library all take these names from here.

>>> anchor_domain("cross"), target_domain("cross")
('mono', 'mix')
>>> pretraining_domains("mixed")
('mix',)
>>> domain_name("mixed")
'mix'
"""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["DOMAINS", "KINDS", "INITS", "MODEL_NAMES", "anchor_domain", "target_domain",
           "pretraining_domains", "domain_name"]

DOMAINS = ("mono", "mix")
KINDS = ("mono", "mixed", "cross")  # the embedding models trained with the rank loss
INITS = ("pretrained", "scratch")  # from pre-trained classifiers, or from random weights
MODEL_NAMES = {"mono": "MONO", "mixed": "MIXED", "cross": "CROSS"}  # as the paper prints them

_ANCHOR = {"mono": "mono", "mixed": "mix", "cross": "mono"}
_TARGET = {"mono": "mono", "mixed": "mix", "cross": "mix"}


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ConfigError(f"model kind {kind!r} not in {KINDS}")


def anchor_domain(kind: str) -> str:
    """Domain of a model kind's anchors (its query side): ``"mono"`` or ``"mix"``."""
    _check_kind(kind)
    return _ANCHOR[kind]


def target_domain(kind: str) -> str:
    """Domain of a model kind's positives and negatives: ``"mono"`` or ``"mix"``."""
    _check_kind(kind)
    return _TARGET[kind]


def pretraining_domains(kind: str) -> tuple[str, ...]:
    """Domains whose pre-trained classifiers initialise ``kind`` (CROSS takes both)."""
    _check_kind(kind)
    return tuple(d for d in DOMAINS if d in (_ANCHOR[kind], _TARGET[kind]))


def domain_name(name: str) -> str:
    """Normalise a user's domain name: ``"mono"``; ``"mix"`` or ``"mixed"`` -> ``"mix"``."""
    if name in ("mix", "mixed"):
        return "mix"
    if name == "mono":
        return "mono"
    raise ConfigError(f"domain {name!r} is not 'mono', 'mix' or 'mixed'")
