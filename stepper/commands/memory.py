"""Freed memory stays in the process for the next allocation instead of going back to the kernel.

A check of a large model allocates and frees gradients by the hundred megabytes. glibc's default
gives a large freed block back to the kernel (an mmap'd block at once, the top of the heap once
it passes the trim threshold), so the next gradient of the same size starts on fresh pages, and
every fresh page faults and is zeroed on first touch: about 0.2 s a gigabyte on this machine's
virtual CPUs when the host is quiet, several times that when it is not. On GPT-2 small the torch
reference frees each parameter gradient as soon as it is compared (see `grad_settler`); with
these two settings the next one reuses those pages, and a cold `stepper check` touches about
700 MB less fresh memory.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
_MMAP_CEILING = 32 * 1024 * 1024  # the largest mmap threshold glibc accepts on 64-bit; GPT-2's largest gradient is 19 MB
_NEVER_TRIM = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MB for reuse; False where there is no glibc to ask."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl's libc has another name)
        return False
    # fixing either threshold also stops glibc from moving them itself, which is what we want here
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_CEILING)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
