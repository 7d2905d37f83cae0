"""Just enough of ELF to check a Linux bundle: which libraries a file needs, and which versions.

`needed(path)` is the file's DT_NEEDED list; `version_needs(path)` maps each needed library to the
symbol versions the file requires of it (e.g. libc.so.6 -> {"GLIBC_2.34", ...}). 64- and 32-bit,
either byte order. Used by the spec (to drop libraries only unwanted plugins need), by
build_deb.py (to derive the .deb's Depends) and by the bundle test.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DT_NEEDED = 1
DT_SONAME = 14
SHT_DYNAMIC = 6
SHT_GNU_VERNEED = 0x6FFFFFFE


@dataclass
class ElfInfo:
    needed: list[str] = field(default_factory=list)
    soname: str | None = None
    #: Needed library -> the symbol versions required of it.
    versions: dict[str, set[str]] = field(default_factory=dict)


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4) == b"\x7fELF"
    except OSError:
        return False


def read(path: Path) -> ElfInfo:
    data = path.read_bytes()
    if data[:4] != b"\x7fELF":
        raise ValueError(f"{path} is not an ELF file")
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
    else:
        (shoff,) = struct.unpack_from(order + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)

    sections = []
    for index in range(shnum):
        at = shoff + index * shentsize
        if wide:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                order + "IIQQQQIIQQ", data, at
            )
        else:
            _, kind, _, _, offset, size, link, _, _, entsize = struct.unpack_from(
                order + "IIIIIIIIII", data, at
            )
        sections.append((kind, offset, size, link, entsize))

    def string(table: int, offset: int) -> str:
        start = sections[table][1] + offset
        return data[start : data.index(b"\0", start)].decode("utf-8", "replace")

    info = ElfInfo()
    for kind, offset, size, link, entsize in sections:
        if kind == SHT_DYNAMIC:
            fmt = order + ("qQ" if wide else "iI")
            step = entsize or struct.calcsize(fmt)
            for at in range(offset, offset + size, step):
                tag, value = struct.unpack_from(fmt, data, at)
                if tag == DT_NEEDED:
                    info.needed.append(string(link, value))
                elif tag == DT_SONAME:
                    info.soname = string(link, value)
                elif tag == 0:
                    break
        elif kind == SHT_GNU_VERNEED:
            at = offset
            while True:
                _, count, file_name, aux, following = struct.unpack_from(order + "HHIII", data, at)
                library = string(link, file_name)
                where = at + aux
                for _ in range(count):
                    _, _, _, name, next_aux = struct.unpack_from(order + "IHHII", data, where)
                    info.versions.setdefault(library, set()).add(string(link, name))
                    where += next_aux
                if not following:
                    break
                at += following
    return info


def elf_files(folder: Path) -> Iterator[Path]:
    """Every ELF file under `folder` (symbolic links not followed)."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and is_elf(path):
            yield path


def newest_version(infos: list[ElfInfo], prefix: str) -> tuple[int, ...]:
    """The newest symbol version named `prefix`x.y... that any of the files requires."""
    newest: tuple[int, ...] = ()
    for info in infos:
        for versions in info.versions.values():
            for version in versions:
                match = re.fullmatch(re.escape(prefix) + r"(\d+(?:\.\d+)*)", version)
                if match:
                    newest = max(newest, tuple(int(n) for n in match[1].split(".")))
    return newest


def glibc_needed(infos: list[ElfInfo]) -> tuple[int, int]:
    """The newest GLIBC_x.y symbol version any of the files requires."""
    newest = newest_version(infos, "GLIBC_") or (2, 0)
    return newest[0], newest[1]
