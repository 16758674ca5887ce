"""The project's one exception family: messages name the file, config key or value at fault.

``PipelineError``
    base of everything below; the CLI turns it into a one-line message and exit status 1.
``ParameterError``
    a function argument is out of range or has the wrong shape (the pure functions' error,
    as ``librosa.util.exceptions.ParameterError``); also a ``ValueError``.
``ConfigError``
    a configuration value is invalid; the message names the key.
``AudioError``
    an audio file cannot be used; carries a short, stable ``reason`` for the skipped tables.
"""


class PipelineError(Exception):
    """Base class for every error the pipeline raises on bad input or config."""


class AudioError(PipelineError):
    """An audio file cannot be used; ``reason`` is a short, stable, table-friendly label."""

    def __init__(self, path, reason: str, detail: str = ""):
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        message = f"{self.path}: {reason}" + (f" ({detail})" if detail else "")
        super().__init__(message)


class ConfigError(PipelineError):
    """A configuration value is invalid; the message names the key."""


class ParameterError(PipelineError, ValueError):
    """A function argument is invalid: out of range, wrong shape or unknown name."""
