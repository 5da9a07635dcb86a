"""Freed memory stays in the process for the next allocation instead of going back to the kernel.

A check of a large model allocates and frees gradients by the hundred megabytes. glibc's default
gives a large freed block back to the kernel (an mmap'd block at once, the top of the heap once
it passes the trim threshold), so the next gradient of the same size starts on fresh pages, and
every fresh page faults and is zeroed on first touch (measured at 0.2 s a gigabyte and more on
a virtual machine). The torch reference frees each parameter gradient as soon as it is compared
(see `compare_grads_as_made`); with these two settings the next one reuses those pages, and a cold
`stepper check` of the benchmark's GPT-2-small shape touches about 700 MB less fresh memory.
Called by `verify.checked` only; asking again is harmless. With one heap for every thread, the
engine and the reference running side by side share the pages too.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # mallopt's parameter numbers (malloc.h)
# the largest mmap threshold glibc accepts (32 MB on 64-bit): it covers every gradient of the
# benchmark's GPT-2-small shape (19 MB at most); a larger block is still mapped and returned
_MMAP_CEILING = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)
_NEVER_TRIM = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (up to 32 MB on 64-bit) for reuse; False where glibc did not take it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl's libc has another name)
        return False
    # fixing either threshold also stops glibc from moving them itself, which is what we want here
    mapped = mallopt(_M_MMAP_THRESHOLD, _MMAP_CEILING)
    trimmed = mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)
    # one heap for every thread: the settings above are the main heap's, and a thread's own heap
    # would map and unmap each large block anew (the engine and the reference run in two threads)
    shared = mallopt(_M_ARENA_MAX, 1)
    return bool(mapped) and bool(trimmed) and bool(shared)
