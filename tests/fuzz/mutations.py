"""Seeded mutations of the sample MSP's files: what a careful tester does to an input file.

Each mutator takes a random generator and one file (name, bytes) and returns a ``Mutation``: the new bytes
(or ``None``: the file deleted), possibly a new name, and a detail precise enough to reproduce it. The
kinds follow issue 24's campaign (byte flips, truncations, renamed, deleted and swapped columns,
encodings, line endings, quotes, odd numbers and dates) and issue 23's hostile files (wide rows, long
lines, NUL bytes, UTF-16, far XLSX cells), plus random ones.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    """One mutated file: ``data`` None means the file is deleted; ``name`` may differ (renamed, or saved
    as XLSX)."""

    kind: str
    file: str
    name: str
    data: bytes | None
    detail: str


Mutator = Callable[[random.Random, str, bytes], Mutation]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines)


def _data_line(rng: random.Random, lines: list[bytes]) -> int:
    """A random data line (not the header, not the empty tail after the last newline)."""
    last = len(lines) - 1 if lines and lines[-1] == b"" else len(lines)
    return rng.randrange(1, max(last, 2)) if last > 1 else 0


def _cell(rng: random.Random, data: bytes, value: bytes) -> tuple[bytes, str]:
    """``data`` with one random cell of a random data line replaced by ``value``."""
    lines = _lines(data)
    number = _data_line(rng, lines)
    cells = lines[number].split(b",")
    column = rng.randrange(len(cells))
    cells[column] = value
    lines[number] = b",".join(cells)
    return _join(lines), f"line {number + 1}, field {column + 1} = {value[:40]!r}"


def byte_flip(rng: random.Random, file: str, data: bytes) -> Mutation:
    out = bytearray(data)
    flips = []
    for _ in range(rng.randint(1, 5)):
        if not out:
            break
        position = rng.randrange(len(out))
        out[position] = rng.randrange(256)
        flips.append(position)
    return Mutation("byte_flip", file, file, bytes(out), f"bytes at {flips}")


def byte_insert_delete(rng: random.Random, file: str, data: bytes) -> Mutation:
    position = rng.randrange(len(data) + 1)
    if rng.random() < 0.5 and data:
        count = rng.randint(1, 8)
        return Mutation("byte_delete", file, file, data[:position] + data[position + count:],
                        f"{count} bytes deleted at {position}")
    inserted = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return Mutation("byte_insert", file, file, data[:position] + inserted + data[position:],
                    f"{inserted!r} inserted at {position}")


def truncate(rng: random.Random, file: str, data: bytes) -> Mutation:
    cut = rng.randrange(len(data) + 1)
    return Mutation("truncate", file, file, data[:cut], f"cut at byte {cut} of {len(data)}")


def truncate_last_line(rng: random.Random, file: str, data: bytes) -> Mutation:
    body = data.rstrip(b"\r\n")
    start = body.rfind(b"\n") + 1
    cut = rng.randrange(start, len(body) + 1) if len(body) > start else len(body)
    return Mutation("truncate_last_line", file, file, body[:cut], f"last line cut at byte {cut - start}")


def line_edit(rng: random.Random, file: str, data: bytes) -> Mutation:
    lines = _lines(data)
    number = _data_line(rng, lines)
    action = rng.choice(["delete", "duplicate", "swap", "blank", "spaces", "delimiters"])
    if action == "delete":
        del lines[number]
    elif action == "duplicate":
        lines.insert(number, lines[number])
    elif action == "swap":
        other = _data_line(rng, lines)
        lines[number], lines[other] = lines[other], lines[number]
    elif action == "blank":
        lines.insert(number, b"")
    elif action == "spaces":
        lines.insert(number, b"   \t ")
    else:
        lines.insert(number, b"," * rng.randint(1, 20))
    return Mutation(f"line_{action}", file, file, _join(lines), f"line {number + 1}")


def fields(rng: random.Random, file: str, data: bytes) -> Mutation:
    lines = _lines(data)
    number = _data_line(rng, lines)
    cells = lines[number].split(b",")
    if rng.random() < 0.5 and len(cells) > 1:
        del cells[rng.randrange(len(cells))]
        kind = "field_missing"
    else:
        cells.insert(rng.randrange(len(cells) + 1), b"extra")
        kind = "field_extra"
    lines[number] = b",".join(cells)
    return Mutation(kind, file, file, _join(lines), f"line {number + 1}")


def header(rng: random.Random, file: str, data: bytes) -> Mutation:
    lines = _lines(data)
    names = lines[0].split(b",")
    column = rng.randrange(len(names))
    action = rng.choice(["rename", "upper", "trailing_space", "duplicate", "blank", "delete", "swap",
                         "delete_column", "reorder"])
    if action == "rename":
        names[column] = bytes(rng.choice(b"abcxyz_ ") for _ in range(rng.randint(1, 8)))
    elif action == "upper":
        names[column] = names[column].upper()
    elif action == "trailing_space":
        names[column] += b" "
    elif action == "duplicate":
        names[column] = names[rng.randrange(len(names))] + rng.choice([b"", b" ", b"  "])
    elif action == "blank":
        names[column] = rng.choice([b"", b" ", b"  "])
    elif action == "delete":
        del names[column]
    elif action == "swap":
        other = rng.randrange(len(names))
        names[column], names[other] = names[other], names[column]
    elif action in ("delete_column", "reorder"):
        table = [line.split(b",") for line in lines]
        order = list(range(len(names)))
        if action == "delete_column":
            order.remove(column)
        else:
            rng.shuffle(order)
        lines = [b",".join(row[i] for i in order if i < len(row)) if row != [b""] else b"" for row in table]
        return Mutation(f"header_{action}", file, file, _join(lines), f"column {column + 1}; order {order}")
    lines[0] = b",".join(names)
    return Mutation(f"header_{action}", file, file, _join(lines), f"column {column + 1}")


def encoding(rng: random.Random, file: str, data: bytes) -> Mutation:
    text = data.decode("utf-8")
    action = rng.choice(["cp1252", "utf16_bom", "utf16_le", "utf16_be", "utf8_bom", "stray_byte", "latin1",
                         "utf32"])
    if action == "cp1252":
        out = text.encode("cp1252", errors="replace")
    elif action == "utf16_bom":
        out = text.encode("utf-16")
    elif action == "utf16_le":
        out = text.encode("utf-16-le")
    elif action == "utf16_be":
        out = text.encode("utf-16-be")
    elif action == "utf8_bom":
        out = b"\xef\xbb\xbf" + data
    elif action == "utf32":
        out = text.encode("utf-32")
    elif action == "latin1":
        out = text.encode("latin-1", errors="replace")
    else:
        position = rng.randrange(len(data) + 1)
        out = data[:position] + bytes([rng.choice([0x96, 0xE9, 0x80, 0xFF, 0xC3])]) + data[position:]
        return Mutation("encoding_stray_byte", file, file, out, f"at byte {position}")
    return Mutation(f"encoding_{action}", file, file, out, action)


def line_endings(rng: random.Random, file: str, data: bytes) -> Mutation:
    action = rng.choice(["crlf", "cr", "nel", "line_separator", "mixed", "no_final_newline", "extra_newlines"])
    replacements = {"crlf": b"\r\n", "cr": b"\r", "nel": "\u0085".encode(), "line_separator": "\u2028".encode()}
    if action in replacements:
        out = data.replace(b"\n", replacements[action])
    elif action == "mixed":
        lines = _lines(data)
        out = b"".join(line + rng.choice([b"\n", b"\r\n", b"\r"]) for line in lines[:-1]) + lines[-1]
    elif action == "no_final_newline":
        out = data.rstrip(b"\r\n")
    else:
        out = data + b"\n" * rng.randint(1, 5)
    return Mutation(f"line_endings_{action}", file, file, out, action)


def quotes(rng: random.Random, file: str, data: bytes) -> Mutation:
    action = rng.choice(["stray_in_header", "stray_in_value", "unterminated_last_column", "inch_mark",
                         "multiline_value", "after_close", "doubled"])
    lines = _lines(data)
    if action == "stray_in_header":
        names = lines[0].split(b",")
        column = rng.randrange(len(names))
        names[column] = b'"' + names[column]
        lines[0] = b",".join(names)
        return Mutation("quote_stray_in_header", file, file, _join(lines), f"column {column + 1}")
    number = _data_line(rng, lines)
    cells = lines[number].split(b",")
    column = len(cells) - 1 if action == "unterminated_last_column" else rng.randrange(len(cells))
    value = cells[column]
    cells[column] = {"stray_in_value": b'"' + value, "unterminated_last_column": b'"' + value,
                     "inch_mark": value + b'" x', "multiline_value": b'"' + value + b'\nsecond line"',
                     "after_close": b'"' + value + b'"tail', "doubled": b'"' + value + b'""x"'}[action]
    lines[number] = b",".join(cells)
    return Mutation(f"quote_{action}", file, file, _join(lines), f"line {number + 1}, field {column + 1}")


_NUMBERS = [b"99999999999999", b"-99999999999999", b"999999999999999999999", b"1000000000000.01", b"12,50",
            b'"\xe2\x82\xac3,50"', b"1e5", b"NaN", b"inf", b"(12.00)", b"12-", b"1,234", b"1.234,56",
            b"0.00001", b"-0", b"+5", b"$", b"1 000", b"\xd9\xa1\xd9\xa2"]
_DATES = [b"today", b"now", b"Today", b"yesterday", b"31/02/2025", b"2025-13-01", b"45000",
          b"2025-11-01T23:30:00-05:00", b"2025/11/01", b"1/2/2025", b"0001-01-01", b"9999-12-31",
          b"2025-11-01 00:00:00", b"NaT"]


def numbers(rng: random.Random, file: str, data: bytes) -> Mutation:
    out, where = _cell(rng, data, rng.choice(_NUMBERS))
    return Mutation("number", file, file, out, where)


def dates(rng: random.Random, file: str, data: bytes) -> Mutation:
    out, where = _cell(rng, data, rng.choice(_DATES))
    return Mutation("date", file, file, out, where)


def control(rng: random.Random, file: str, data: bytes) -> Mutation:
    value = rng.choice([b"\x00", b"\x1b[31m", b"\x07", b"\x7f", b"\x0b", b"\x0c"])
    position = rng.randrange(len(data) + 1)
    return Mutation("control_byte", file, file, data[:position] + value + data[position:],
                    f"{value!r} at byte {position}")


def wide_row(rng: random.Random, file: str, data: bytes) -> Mutation:
    lines = _lines(data)
    number = rng.choice([1, _data_line(rng, lines)])
    extra = rng.choice([b",", b'"x",', b";"]) * rng.choice([100, 20_000, 100_000])
    lines[number] = lines[number] + b"," + extra
    return Mutation("wide_row", file, file, _join(lines), f"line {number + 1}, {len(extra)} bytes")


def long_line(rng: random.Random, file: str, data: bytes) -> Mutation:
    lines = _lines(data)
    number = _data_line(rng, lines)
    lines[number] += b"x" * rng.choice([10_000, 1_100_000])
    return Mutation("long_line", file, file, _join(lines), f"line {number + 1}")


def hostile_header(rng: random.Random, file: str, data: bytes) -> Mutation:
    pattern = rng.choice([b',"', b'"', b",", b'""'])
    return Mutation("hostile_header", file, file, pattern * (65_536 // len(pattern)) + b"\n" + data,
                    f"{pattern!r} x {65_536 // len(pattern)}")


def whole_file(rng: random.Random, file: str, data: bytes) -> Mutation:
    action = rng.choice(["empty", "header_only", "delete", "garbage", "delimiter_semicolon", "delimiter_tab",
                         "rename"])
    if action == "empty":
        return Mutation("file_empty", file, file, b"", "0 bytes")
    if action == "header_only":
        return Mutation("file_header_only", file, file, _lines(data)[0] + b"\n", "header only")
    if action == "delete":
        return Mutation("file_deleted", file, file, None, "deleted")
    if action == "garbage":
        return Mutation("file_garbage", file, file, bytes(rng.randrange(256) for _ in range(rng.randint(1, 4096))),
                        "random bytes")
    if action == "rename":
        name = rng.choice(["data.csv", file.upper(), file.replace(".csv", ".txt"), "usage_extra.csv"])
        return Mutation("file_renamed", file, name, data, f"renamed {name}")
    delimiter = b";" if action == "delimiter_semicolon" else b"\t"
    return Mutation(f"file_{action}", file, file, data.replace(b",", delimiter), action)


def as_workbook(rng: random.Random, file: str, data: bytes) -> Mutation:
    """The file saved as XLSX, with one of: nothing else, a far cell, an error cell, a cover sheet."""
    import openpyxl  # (only here: the other mutators need no workbook)

    book = openpyxl.Workbook()
    sheet = book.active
    action = rng.choice(["plain", "far_cell", "error_cell", "cover_sheet", "beyond_header", "gap_rows"])
    if action == "cover_sheet":
        sheet.title = "Cover"
        sheet["A1"] = "Report"
        sheet = book.create_sheet("Data")
    for line in data.decode("utf-8").splitlines():
        sheet.append(line.split(","))
    if action == "far_cell":
        sheet[rng.choice(["XFD1048576", "XFD2", "A1048576", "ALM5"])] = "x"
    elif action == "error_cell":
        sheet.cell(row=2, column=rng.randint(1, 3), value="#DIV/0!")
    elif action == "beyond_header":
        sheet.cell(row=3, column=sheet.max_column + 2, value="stray")
    elif action == "gap_rows":
        sheet.cell(row=sheet.max_row + 50, column=1, value="after a gap")
    buffer = io.BytesIO()
    book.save(buffer)
    name = file.rsplit(".", 1)[0] + ".xlsx"
    return Mutation(f"xlsx_{action}", file, name, buffer.getvalue(), action)


MUTATORS: tuple[tuple[Mutator, int], ...] = (  # (mutator, weight)
    (byte_flip, 6), (byte_insert_delete, 4), (truncate, 5), (truncate_last_line, 4), (line_edit, 6),
    (fields, 5), (header, 8), (encoding, 6), (line_endings, 5), (quotes, 7), (numbers, 7), (dates, 6),
    (control, 3), (wide_row, 2), (long_line, 1), (hostile_header, 1), (whole_file, 5), (as_workbook, 3),
)


def mutate(rng: random.Random, file: str, data: bytes) -> Mutation:
    """One random mutation of ``file``."""
    mutators, weights = zip(*MUTATORS, strict=True)
    return rng.choices(mutators, weights)[0](rng, file, data)
