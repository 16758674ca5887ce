"""The project's one exception family: messages name the file or config key at fault."""


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
