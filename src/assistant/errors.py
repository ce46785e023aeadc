"""Errors a user can act on.

Library code raises these; only the CLI and the app turn them into messages and
exit codes. Every message says what to do next.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message is shown to the user as it is."""

    exit_code = 1


class ConfigError(AssistantError):
    """A setting, flag or data file is wrong."""

    exit_code = 2


class DataFileError(ConfigError):
    """A bundled or user-supplied data file (rules, notices, eval set) is malformed."""


class CorpusError(AssistantError):
    """The corpus folder is missing, empty, or holds no readable document."""


class IndexMissingError(AssistantError):
    """No index has been built at the configured location."""


class ModelUnavailableError(AssistantError):
    """The configured embedding or language model cannot be loaded."""


class EmptyQuestionError(AssistantError):
    """The question is empty or only white space."""

    exit_code = 2


class StoreUnavailableError(AssistantError):
    """The vector store (a Chroma server) cannot be reached."""


class IndexDamagedError(AssistantError):
    """The served index is there but cannot be used as it is (a file of it is missing or corrupt)."""
