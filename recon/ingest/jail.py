"""A data directory is a jail: no file outside it is ever read, and no link is followed out of it.

The directory given (``--data``, ``$RECON_SAMPLE_DIR``) is the jail, wherever it is (itself a link or
not). Inside it:

* ``profile.toml`` paths are relative globs that stay inside: an absolute path or a ``..`` part is a
  profile error (``recon.ingest.profile``), and a glob is matched against the files found by walking the
  directory without following links into other directories (``**`` may cross folders inside it);
* a file or folder that is a symbolic link is followed only when it resolves to a place inside the jail;
  a link out of it (``payments.csv -> /proc/self/environ``) is reported as such and never opened, so
  nothing of what it points to can reach a report, a message or a page;
* only regular files are read (not devices, pipes or sockets), opened without following a link in the
  last step (``O_NOFOLLOW``) after their real path was checked to be inside.

What is left: a folder inside the jail replaced by a link between the check and the open (an attacker
who can write into the data directory while it is being read). Reading is then still limited to what
the process may read; run the tool with no more rights than the data needs.
"""

from __future__ import annotations

import mmap
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from recon.errors import JailError, MissingSourceError

FileBytes = bytes | mmap.mmap
LINK_OUT = ("is a link to a place outside the data directory; links out of it are not followed (copy the "
            "file into the data directory instead)")
NOT_A_FILE = "is not a regular file (a device, pipe or socket); not read"


@dataclass(frozen=True)
class Jail:
    """A data directory resolved to its real path."""

    root: Path

    @classmethod
    def of(cls, data_dir: Path) -> Jail:
        if not data_dir.is_dir():
            raise MissingSourceError(f"data directory not found: {data_dir}")
        return cls(data_dir.resolve(strict=True))

    def holds(self, path: Path) -> bool:
        """Whether ``path``'s real path (links resolved) is inside the jail."""
        real = os.path.realpath(path)
        return real == str(self.root) or real.startswith(str(self.root) + os.sep)

    def files(self, suffixes: tuple[str, ...]) -> list[tuple[str, Path]]:
        """(name, path) of the entries directly in the jail with one of ``suffixes`` that are not folders:
        files, links (reading one out of the jail refuses it, saying so), pipes and devices (refused)."""
        entries = sorted(os.scandir(self.root), key=lambda item: item.name)
        return [(entry.name, Path(entry.path)) for entry in entries if Path(entry.name).suffix.lower() in suffixes
                and not entry.is_dir(follow_symlinks=False)]  # (a pipe or device is listed, and refused)

    def walk(self) -> tuple[list[tuple[str, Path]], list[str]]:
        """(relative name with ``/``, path) of every file in the jail and its folders, links to folders
        not followed (a link to a file is listed: reading checks where it leads), and the names of the
        links to folders out of the jail (reported, never entered)."""
        found, links_out = [], []
        for folder, folders, files in os.walk(self.root, followlinks=False):
            folders.sort()
            links_out += [(Path(folder) / name).relative_to(self.root).as_posix() for name in folders
                          if (Path(folder) / name).is_symlink() and not self.holds(Path(folder) / name)]
            for name in sorted(files):
                path = Path(folder) / name
                found.append((path.relative_to(self.root).as_posix(), path))
        return found, links_out

    def read(self, path: Path) -> FileBytes:
        """A file's bytes: a text file mapped read-only into memory (an empty file, or a workbook, read
        as bytes). Raises ``JailError`` for a link out of the jail or anything but a regular file."""
        if not self.holds(path):
            raise JailError(LINK_OUT)
        real = os.path.realpath(path)
        try:
            descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
                                 | getattr(os, "O_NONBLOCK", 0))
        except OSError as error:
            raise JailError(f"cannot be opened: {error.strerror or error}") from None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise JailError(NOT_A_FILE)
            if not status.st_size or real.lower().endswith(".xlsx"):
                return _read_all(descriptor, status.st_size)
            return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(descriptor)

    def size(self, path: Path) -> int:
        """A file's size (0 for one that cannot be read: it is refused when read)."""
        try:
            return Path(os.path.realpath(path)).stat().st_size if self.holds(path) else 0
        except OSError:
            return 0


def _read_all(descriptor: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(descriptor, max(size, 1 << 16))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def path_problem(pattern: str) -> str | None:
    """Why a ``profile.toml`` path would lead out of the data directory (None: it stays inside)."""
    if pattern.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", pattern) or Path(pattern).is_absolute():
        return "must be relative to the data directory, not an absolute path"
    if any(part == ".." for part in re.split(r"[\\/]", pattern)):
        return "must stay inside the data directory (no '..')"
    return None


def glob_matches(pattern: str, name: str) -> bool:
    """Whether relative ``name`` (``/`` separated) matches the glob ``pattern`` (case ignored): ``*`` and
    ``?`` within one folder name, ``**/`` any number of folders, ``[...]`` a set."""
    return re.fullmatch(_glob_regex(pattern.casefold()), name.casefold()) is not None


def _glob_regex(pattern: str) -> str:
    out, position = [], 0
    while position < len(pattern):
        if pattern.startswith("**/", position):
            out.append("(?:.*/)?")
            position += 3
            continue
        character = pattern[position]
        if character == "*":
            out.append(".*" if pattern.startswith("**", position) else "[^/]*")
            position += 2 if pattern.startswith("**", position) else 1
            continue
        if character == "?":
            out.append("[^/]")
        elif character == "[" and "]" in pattern[position + 1:]:
            end = pattern.index("]", position + 1)
            body = pattern[position + 1:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            position = end + 1
            continue
        else:
            out.append(re.escape(character))
        position += 1
    return "".join(out)
