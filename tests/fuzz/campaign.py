"""The fuzz campaign (issue 24, deliverable 6): seeded mutations of the sample MSP's files, each loaded the
way ``recon validate`` loads a data directory, and a share of them run through the command line.

    make fuzz                                   # 2,000 mutations, seed 24, two workers; updates README.md
    python -m tests.fuzz.campaign --mutations 200 --seed 7 --workers 1

Per mutation (``tests/fuzz/mutations.py``: the file, the kind, exactly what changed) it checks:

* **no crash**: reading the mutated file raises nothing but a ``ReconError`` (one sentence), and no
  mutation runs longer than ``--timeout`` seconds (a frozen reader is a failure too);
* **one sentence**: a refusal is one line per problem, with nothing of a parser's internals in it;
* **conservation**: rows in = rows used + rows quarantined, and the file's physical lines = header + rows
  used + rows quarantined + blank lines, where the physical lines are counted here, independently, from
  the bytes as the report says they were decoded (CR, LF, CRLF; NEL where the report says so; the last
  row holding a value of an XLSX sheet);
* **never a silent change**: a mutation that changes how a file is written but not what it says
  (``PRESERVING``: another encoding, other line ends, reordered columns or lines, blank lines, another
  delimiter or the same table as XLSX, where no value holds a quote) must load into the very rows the
  original file loads into (compared as a multiset, the provenance columns aside), or else say so: the
  file refused, rows quarantined or a warning. A different set of rows read without a word is a failure.
  For every other mutation the campaign counts how the rows came out (the same, changed with a word,
  changed without one: a value edited into another valid value, a line deleted or duplicated, which no
  reader can tell from real data) and reports it per kind;
* every ``--cli-every``-th mutation also goes through ``recon validate`` on the whole sample directory
  with the file mutated (exit 0 or 1, no traceback, each line on stderr one sentence), and every
  ``--run-every``-th through ``recon run --no-store`` (exit 0, or 2 with one ``error:`` line: the CLI's
  code for a run it refused).

Mutation ``i`` of seed ``s`` depends on nothing else (``random.Random(f"{s}:{i}")``), so a failure is
reproduced by ``--only i``. Results: ``tests/fuzz/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
README = Path(__file__).with_name("README.md")
NOT_SOURCES = ("answer_key.csv", "expected_unmapped.csv")
PARSER_INTERNALS = ("Traceback", "Error tokenizing", "ArrowInvalid", "pyarrow", "Exception", "errno", "<class")


@dataclass
class Outcome:
    """What one mutation did: ``verdict`` is ``loaded``, ``refused``, ``ignored`` or ``absent``, and
    ``failures`` says what went wrong (a crash, a message that is not a sentence, lines unaccounted)."""

    number: int
    kind: str
    file: str
    detail: str
    verdict: str = ""
    seconds: float = 0.0
    lines_unaccounted: int = 0
    failures: list[str] = field(default_factory=list)
    cli: str = ""
    rows: str = ""  # loaded: "same" rows as the original, "said" (changed, with a word) or "silent"
    keeps_meaning: bool = False  # a ``PRESERVING`` mutation


# Mutations that change how the file is written, never what it says (see the module); those marked
# ``quoteless`` only where the original holds no quote (a value holding the delimiter would be split).
PRESERVING = frozenset({
    "encoding_cp1252", "encoding_latin1", "encoding_utf16_bom", "encoding_utf16_le", "encoding_utf16_be",
    "encoding_utf8_bom", "encoding_utf32", "line_endings_crlf", "line_endings_cr", "line_endings_nel",
    "line_endings_line_separator", "line_endings_mixed", "line_endings_no_final_newline",
    "line_endings_extra_newlines", "header_reorder", "header_upper", "header_trailing_space", "line_swap",
    "line_blank", "line_spaces"})
QUOTELESS_PRESERVING = frozenset({"file_delimiter_semicolon", "file_delimiter_tab", "xlsx_plain", "xlsx_cover_sheet"})
PROVENANCE = ("source_file", "source_line")


def preserving(changed: Any) -> bool:
    """Whether ``changed`` (a ``Mutation``) leaves what the file says as it was."""
    original = (SAMPLE / changed.file).read_bytes()
    return changed.kind in PRESERVING or (changed.kind in QUOTELESS_PRESERVING and b'"' not in original)


def sample_files() -> list[str]:
    return sorted(path.name for path in SAMPLE.glob("*.csv") if path.name not in NOT_SOURCES)


def mutation(seed: int, number: int) -> Any:
    from tests.fuzz.mutations import mutate

    rng = random.Random(f"{seed}:{number}")
    file = rng.choice(sample_files())
    return mutate(rng, file, (SAMPLE / file).read_bytes())


# ------------------------------------------------------------------------------------------ the oracle

_BREAKS = re.compile(r"\r\n|\n|\r")


def physical_lines(data: bytes, name: str, encoding: str, warnings: tuple[str, ...]) -> int:
    """The file's physical lines, counted independently of the reader from its bytes."""
    if name.lower().endswith(".xlsx"):
        return _sheet_lines(data)
    text = _decoded(data, encoding)
    separators = [name for name in ("\u0085", "\u2028", "\u2029") if any(f"U+{ord(name):04X}" in w for w in warnings)]
    if separators:
        text = text.replace(separators[0], "\n")
    breaks = len(_BREAKS.findall(text))
    return breaks + int(bool(text) and not text.endswith(("\n", "\r")))


_CODECS = {"UTF-16LE": "utf-16-le", "UTF-16BE": "utf-16-be", "UTF-32LE": "utf-32-le", "UTF-32BE": "utf-32-be",
           "Windows-1252": "cp1252"}
_MARKS = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
          "utf-32-be": b"\x00\x00\xfe\xff"}


def _decoded(data: bytes, encoding: str) -> str:
    codec = _CODECS.get(encoding.split(" ")[0])
    if codec is None:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    if codec in _MARKS and "byte order mark" in encoding:
        data = data.removeprefix(_MARKS[codec])
    return data.decode(codec)


def _sheet_lines(data: bytes) -> int:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    sheet = book.worksheets[0] if len(book.worksheets) == 1 else _table_sheet(book)
    filled = [cell.row for row in sheet.iter_rows() for cell in row
              if cell.value is not None and str(cell.value).strip()]
    return max(filled, default=0)


def _table_sheet(book: Any) -> Any:
    for sheet in book.worksheets:
        first = next(sheet.iter_rows(max_row=1, values_only=True), ())
        if sum(value is not None and str(value).strip() != "" for value in first) >= 2:
            return sheet
    return book.worksheets[0]


# ------------------------------------------------------------------------------------------ one check

class _FrozenError(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _FrozenError


def check(seed: int, number: int, cli_every: int, run_every: int, timeout: int) -> Outcome:
    """Apply mutation ``number`` and check it (see the module)."""
    changed = mutation(seed, number)
    outcome = Outcome(number, changed.kind, changed.file, changed.detail[:160], keeps_meaning=preserving(changed))
    started = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    try:
        with tempfile.TemporaryDirectory(prefix="recon-fuzz-") as scratch:
            _check_file(changed, Path(scratch), outcome)
            if cli_every and number % cli_every == 0:
                _check_cli(changed, Path(scratch), outcome, run=bool(run_every) and number % run_every == 0)
    except _FrozenError:
        outcome.failures.append(f"froze: no answer within {timeout} s")
    except Exception:  # a crash of the harness itself is a failure to look at, too
        outcome.failures.append("crash: " + traceback.format_exc(limit=-3).strip().replace("\n", " | ")[-600:])
    finally:
        signal.alarm(0)
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


def _check_file(changed: Any, scratch: Path, outcome: Outcome) -> None:
    from recon.errors import ReconError
    from recon.ingest.directory import inspect_directory

    folder = scratch / "one"
    folder.mkdir()
    if changed.data is None:
        outcome.verdict = "absent"
        return
    (folder / changed.name).write_bytes(changed.data)
    try:
        inspection = inspect_directory(folder)
    except ReconError as error:
        outcome.verdict = "refused"
        _one_sentence(str(error), outcome)
        return
    except Exception:
        outcome.failures.append("crash: " + traceback.format_exc(limit=-3).strip().replace("\n", " | ")[-600:])
        return
    if inspection.ignored:
        outcome.verdict = "ignored"
        return
    for report in inspection.refused:
        outcome.verdict = "refused"
        for problem in report.problems:
            _one_sentence(problem, outcome)
    for loaded in inspection.loaded:
        outcome.verdict = "loaded"
        _conserved(loaded.report, changed, outcome)
        _compared(loaded, changed, outcome)


_ORIGINAL_ROWS: dict[str, list[tuple[str, ...]]] = {}


def rows_of(frame: Any) -> list[tuple[str, ...]]:
    """A loaded frame's rows as sorted tuples of text, columns by name, provenance aside: equal exactly
    when two files load into the same rows, in any order."""
    columns = sorted(column for column in frame.columns if column not in PROVENANCE)
    text = frame[columns].astype("string").fillna("<NA>")
    return sorted(zip(*(text[column].tolist() for column in columns), strict=True)) if columns else []


def original_rows(file: str) -> list[tuple[str, ...]]:
    """The rows the unmutated sample file loads into (once per process)."""
    from recon.ingest.directory import inspect_directory

    if file not in _ORIGINAL_ROWS:
        with tempfile.TemporaryDirectory(prefix="recon-fuzz-original-") as scratch:
            shutil.copy(SAMPLE / file, Path(scratch) / file)
            _ORIGINAL_ROWS[file] = rows_of(inspect_directory(Path(scratch)).loaded[0].frame)
    return _ORIGINAL_ROWS[file]


def _compared(loaded: Any, changed: Any, outcome: Outcome) -> None:
    report = loaded.report
    if rows_of(loaded.frame) == original_rows(changed.file):
        outcome.rows = "same"
    elif report.rows_quarantined or report.warnings:
        outcome.rows = "said"
    else:
        outcome.rows = "silent"
        if outcome.keeps_meaning:
            outcome.failures.append("silent change: the rows read differ from the original file's and nothing "
                                    "was quarantined or warned about")


def _one_sentence(message: str, outcome: Outcome) -> None:
    if "\n" in message or not message.strip():
        outcome.failures.append(f"not one sentence: {message[:200]!r}")
    leaked = [word for word in PARSER_INTERNALS if word in message]
    if leaked:
        outcome.failures.append(f"parser internals in a message ({leaked[0]}): {message[:200]!r}")


def _conserved(report: Any, changed: Any, outcome: Outcome) -> None:
    counts = report.line_counts
    if report.rows_in != report.rows_used + report.rows_quarantined:
        outcome.failures.append(f"rows in {report.rows_in} != used {report.rows_used} + quarantined "
                                f"{report.rows_quarantined}")
    accounted = counts.header + counts.used + counts.quarantined + counts.blank
    expected = physical_lines(changed.data, changed.name, report.encoding, report.warnings)
    if counts.lines != expected or accounted != expected:
        outcome.lines_unaccounted = abs(expected - accounted) or abs(expected - (counts.lines or 0))
        outcome.failures.append(f"lines: counted {expected}, reported {counts.describe()}")


def _check_cli(changed: Any, scratch: Path, outcome: Outcome, run: bool) -> None:
    from typer.testing import CliRunner

    from recon.cli import app

    data = scratch / "data"
    data.mkdir()
    for name in sample_files():
        if name != changed.file:
            shutil.copy(SAMPLE / name, data / name)
    if changed.data is not None:
        (data / changed.name).write_bytes(changed.data)
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", "--data", str(data)])
    outcome.cli = f"validate {validated.exit_code}"
    _cli_verdict(validated, (0, 1), "refused: ", outcome)
    if run:
        ran = runner.invoke(app, ["run", "--data", str(data), "--out", str(scratch / "out"), "--no-store"])
        outcome.cli += f", run {ran.exit_code}"
        _cli_verdict(ran, (0, 2), "error: ", outcome)


def _cli_verdict(result: Any, codes: tuple[int, ...], prefix: str, outcome: Outcome) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception, limit=-3)).replace("\n", " | ")[-600:]
        outcome.failures.append(f"CLI crash: {trace}")
    if result.exit_code not in codes:
        outcome.failures.append(f"CLI exit {result.exit_code}: {result.output[-300:]!r}")
    if "Traceback" in result.output:
        outcome.failures.append("CLI printed a traceback")
    errors = [line for line in result.output.splitlines() if line.startswith(prefix)]
    if result.exit_code and prefix == "error: " and len(errors) != 1:
        outcome.failures.append(f"CLI failure is not one line: {result.output[-300:]!r}")


# ---------------------------------------------------------------------------------------- the campaign

def _worker_init() -> None:
    os.environ.setdefault("RECON_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='recon-fuzz-db-')}/fuzz.db")
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _batch(arguments: tuple[int, list[int], int, int, int]) -> list[Outcome]:
    seed, numbers, cli_every, run_every, timeout = arguments
    with contextlib.redirect_stderr(io.StringIO()):  # GX and openpyxl warnings are not findings
        return [check(seed, number, cli_every, run_every, timeout) for number in numbers]


def campaign(seed: int, mutations: int, workers: int = 1, cli_every: int = 25, run_every: int = 100,
             timeout: int = 300, only: list[int] | None = None) -> list[Outcome]:
    """Run mutations ``0 .. mutations-1`` (or ``only``) of ``seed``; every outcome, in order."""
    numbers = only if only is not None else list(range(mutations))
    batches = [numbers[start::max(workers, 1) * 4] for start in range(max(workers, 1) * 4)]
    jobs = [(seed, batch, cli_every, run_every, timeout) for batch in batches if batch]
    if workers <= 1:
        _worker_init()
        outcomes = [outcome for job in jobs for outcome in _batch(job)]
    else:
        with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
            outcomes = [outcome for result in pool.map(_batch, jobs) for outcome in result]
    return sorted(outcomes, key=lambda outcome: outcome.number)


def summary(outcomes: list[Outcome], seed: int, seconds: float, workers: int) -> str:
    """The results as Markdown (for README.md)."""
    by_kind: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        counter = by_kind.setdefault(outcome.kind, Counter())
        counter["mutations"] += 1
        counter[outcome.verdict or "failed"] += 1
        counter["failures"] += bool(outcome.failures)
        counter["lines_unaccounted"] += outcome.lines_unaccounted
        counter[f"rows_{outcome.rows}"] += bool(outcome.rows)
    failed = [outcome for outcome in outcomes if outcome.failures]
    crashes = sum(any(text.startswith(("crash", "CLI crash", "froze")) for text in o.failures) for o in outcomes)
    unaccounted = sum(outcome.lines_unaccounted for outcome in outcomes)
    kept = [outcome for outcome in outcomes if outcome.keeps_meaning]
    kept_silent = sum(outcome.rows == "silent" for outcome in kept)
    silent = sum(outcome.rows == "silent" for outcome in outcomes)
    cli = sum(bool(outcome.cli) for outcome in outcomes)
    runs = sum("run" in outcome.cli for outcome in outcomes)
    slowest = max(outcomes, key=lambda outcome: outcome.seconds) if outcomes else None
    lines = [f"Seed {seed}, {len(outcomes):,} mutations in {seconds:,.0f} s with {workers} worker(s) on "
             f"{os.cpu_count()} cores ({platform.python_implementation()} {platform.python_version()}, "
             f"{time.strftime('%Y-%m-%d %H:%M')}); {cli} also through `recon validate` on the whole sample "
             f"directory, {runs} through `recon run --no-store`.", "",
             f"**{crashes} crashes, {unaccounted} lines unaccounted, {len(failed)} mutations with any failure.**"
             + (f" Slowest mutation: #{slowest.number} ({slowest.kind}), {slowest.seconds:.1f} s." if slowest else ""),
             "", f"**{kept_silent} silent changes among the {len(kept):,} mutations that keep what a file says** "
             f"(another encoding, line ends, column or line order, blank lines, delimiter, XLSX); over all "
             f"mutations, {silent:,} loaded into other rows without a word (valid values edited into other valid "
             "values, lines deleted or duplicated: real data looks the same).",
             "", "Rows loaded: *same* as the original file's, *said* (different, with rows quarantined or a warning), "
             "*silent* (different, without a word).",
             "", "| kind | mutations | loaded | refused | ignored | absent | failures | lines unaccounted "
             "| same | said | silent |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for kind in sorted(by_kind):
        count = by_kind[kind]
        lines.append(f"| {kind} | {count['mutations']} | {count['loaded']} | {count['refused']} | {count['ignored']} "
                     f"| {count['absent']} | {count['failures']} | {count['lines_unaccounted']} "
                     f"| {count['rows_same']} | {count['rows_said']} | {count['rows_silent']} |")
    if failed:
        lines += ["", "Failures (reproduce one with `python -m tests.fuzz.campaign --seed "
                  f"{seed} --only N`):", ""]
        lines += [f"- #{item.number} {item.kind} of {item.file} ({item.detail}): {'; '.join(item.failures)[:400]}"
                  for item in failed[:50]]
    return "\n".join(lines) + "\n"


def write_results(text: str, path: Path = README) -> None:
    start, end = "<!-- fuzz:start -->", "<!-- fuzz:end -->"
    current = path.read_text() if path.exists() else f"# Fuzz campaign\n\n{start}\n{end}\n"
    before, _, rest = current.partition(start)
    _, _, after = rest.partition(end)
    path.write_text(f"{before}{start}\n{text}{end}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--mutations", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cli-every", type=int, default=25)
    parser.add_argument("--run-every", type=int, default=100)
    parser.add_argument("--timeout", type=int, default=300, help="seconds one mutation may take")
    parser.add_argument("--only", type=int, action="append", help="run only mutation N (repeatable)")
    parser.add_argument("--results", type=Path, help="write the results into this Markdown file's fuzz block")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    outcomes = campaign(arguments.seed, arguments.mutations, arguments.workers, arguments.cli_every,
                        arguments.run_every, arguments.timeout, arguments.only)
    text = summary(outcomes, arguments.seed, time.perf_counter() - started, arguments.workers)
    print(text)
    if arguments.only:
        for outcome in outcomes:
            print(asdict(outcome))
    if arguments.results:
        write_results(text, arguments.results)
    return 1 if any(outcome.failures for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
