"""Writing files so that a crash never leaves half of them: a folder replaced in one step, a file
replaced in one step.

``replace_folder`` writes every file into a new folder beside the target (``.out.new-XXXX``), flushes
them to disk, and then swaps that folder with the target in one ``rename``: on Linux an atomic exchange
(``renameat2(RENAME_EXCHANGE)``), so that at every instant the target is either the complete previous
folder or the complete new one; where the system has no exchange, two renames a few microseconds apart
(the previous folder is moved aside first, so a crash between them leaves it beside the target, whole).
Folders left by a crash are removed the next time. The target is replaced whole, so it must hold nothing
but what this tool wrote there (``OutputError`` names the first other entry); ``replace_file`` does the
same for one file (the audit pack).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from recon.errors import OutputError

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_LEFTOVER = (".new-", ".old-")


def check_folder(target: Path, allowed: Iterable[str]) -> None:
    """Refuse (``OutputError``) a target that exists and is not a folder, or holds an entry other than
    ``allowed`` names (what an earlier run wrote): replacing it whole would delete that entry."""
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir() or target.is_symlink():
        raise OutputError(f"{target} is not a folder; give a folder for the results (a new one is created)")
    names = set(allowed)
    others = sorted(entry.name for entry in os.scandir(target) if entry.name not in names)
    if others:
        raise OutputError(f"{target} holds other files ({others[0]!r}{' and more' if len(others) > 1 else ''}); "
                          "the results replace the folder whole, so give a new folder or one holding only a "
                          "previous run's results")


@contextmanager
def folder_replaced(target: Path, allowed: Iterable[str]) -> Iterator[Path]:
    """A new, empty folder beside ``target`` to write into; when the ``with`` block ends without an error
    its files are flushed to disk and it takes ``target``'s place in one step (see the module), and the
    previous folder is removed. ``allowed``: the names an earlier write may have left in ``target``
    (``check_folder``). An error in the block leaves ``target`` as it was."""
    check_folder(target, allowed)
    parent = target.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(parent, target.name)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    try:
        yield staging
        for path in staging.iterdir():
            _sync(path)
        _sync(staging)
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the new files when it failed, else the previous ones
    _sync(parent)


def replace_folder(target: Path, files: Mapping[str, bytes], allowed: Iterable[str] | None = None) -> None:
    """Make ``target`` a folder holding exactly ``files`` (name -> bytes), in one step (see the module).
    ``allowed``: the names an earlier write may have left there (default: those of ``files``)."""
    with folder_replaced(target, files if allowed is None else allowed) as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)


def replace_file(target: Path, data: bytes) -> None:
    """Write ``target`` in one step: a file beside it, flushed, then renamed over it. Raises ``OSError``
    (a folder in the way, no such folder, no permission) before anything is replaced."""
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.new-", dir=target.absolute().parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


def _sync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (where the system allows opening a folder)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _swap_in(staging: Path, target: Path) -> None:
    """Put ``staging`` at ``target``; the previous ``target`` (if any) ends up at ``staging``."""
    if not target.exists():
        staging.rename(target)
        return
    if _exchange(staging, target):
        return
    aside = staging.with_name(staging.name.replace(".new-", ".old-"))
    target.rename(aside)
    staging.rename(target)
    aside.rename(staging)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(error, os.strerror(error), str(second))


def _remove_leftovers(parent: Path, name: str) -> None:
    """Folders an earlier crash left beside the target (``.out.new-*``, ``.out.old-*``)."""
    for entry in os.scandir(parent):
        if entry.name.startswith(f".{name}") and any(mark in entry.name for mark in _LEFTOVER) and entry.is_dir():
            shutil.rmtree(entry.path, ignore_errors=True)
