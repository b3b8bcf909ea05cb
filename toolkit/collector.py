"""Python's cycle collector while a workbook is turned into files: one policy, used by the reader,
accounting and both front ends.

A big workbook makes millions of objects (records, documents, postings, rendered lines) and next
to no reference cycles. The collector frees nothing among them, yet walks them all again at each
full collection: a third of an export's CPU at 100,000 invoices. So the work runs with it paused
(`paused`), and what lives as long as the export (the workbook's records, the documents) is moved
out of its reach once built (`exempt`), so that collections after the pause do not walk it again.
Reference counting frees all of it as usual; only a cycle already garbage when `exempt` runs would
never be collected, which is harmless in a process that runs one command and ends.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def paused():
    """The collector off for the block; switched on again after it only if it was on before, so
    blocks nest (the command pauses it, and the reader inside it)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def exempt() -> None:
    """Every object alive now left out of future collections (gc.freeze)."""
    gc.freeze()
