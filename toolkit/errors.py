"""One base class for every error the user can act on.

Both front ends (the command line and the ribbon) catch `UserError` and show its message as it is,
without a traceback: the message says what happened, where, and what to do. Anything else is a bug.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix, or a condition they must act on; the message is for them."""
