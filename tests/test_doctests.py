"""The examples in the core pure functions' docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = ["pipeline.core.music", "pipeline.core.segment", "pipeline.core.random", "pipeline.core.signal",
           "pipeline.core.hashing", "pipeline.core.vectors", "pipeline.core.vocabulary",
           "pipeline.analysis.voicing",
           "pipeline.analysis.key_profiles", "pipeline.dataset.features", "pipeline.dataset.reader"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name != "pipeline.dataset.reader":  # its example needs a dataset on disk (skipped)
        assert result.attempted > 0, f"{name} has no examples"


def test_a_wrong_example_fails():
    """The harness is not vacuous: a module whose example prints something else fails."""
    import types

    fake = types.ModuleType("fake")
    fake.__doc__ = ">>> 1 + 1\n3\n"
    assert doctest.testmod(fake, report=False).failed == 1
