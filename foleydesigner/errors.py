"""Errors a user can act on. Each message names the problem and what to do about it."""


class FoleyError(Exception):
    """Base class: the CLI prints the message alone and exits non-zero."""


class InputError(FoleyError):
    """Bad input file or flag."""


class BackendError(FoleyError):
    """A backend could not be created or failed (missing key, weights, provider error)."""
