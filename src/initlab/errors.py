"""Exceptions that the CLI maps to messages and exit codes.

Library code raises these and never prints or exits; `initlab.cli` is the
one place that turns them into text and an exit status.
"""

from __future__ import annotations


class InitlabError(Exception):
    """Base class of every error initlab reports to a user without a traceback."""

    exit_code = 2


class UsageError(InitlabError, ValueError):
    """Bad input from the user: an unknown name, an impossible shape or count."""

    exit_code = 2


class DataError(InitlabError):
    """A data or model file that is missing, corrupt, or refused as unsafe."""

    exit_code = 2


class BackendError(InitlabError):
    """A framework that is missing, or a Keras backend that cannot be switched."""

    exit_code = 2
