"""Ingest: files and pulled tables -> canonical frames + quarantine rows (PRODUCT.md sections 2 and 9).

In: bytes (an upload, a file of a data directory, a connector's pull) and how to read them. Out: a
``recon.sources.Sources`` (canonical frames, quarantined rows with their reasons, an import record and a
validation report per file). The stages, each its own module: ``guard`` (what a file is, checked before
any parser sees it), ``reading`` (bytes -> text cells), ``presets`` and ``profile`` (which column means
which field in a real export), ``normalise`` (text cells -> typed canonical rows), ``quality`` (the Great
Expectations suites that send rows to quarantine), ``files`` (one file end to end) and ``directory`` (a
data directory). Rows in = rows used + rows quarantined, for every file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import lazy

if TYPE_CHECKING:
    from recon.ingest.directory import (
        LOADING_THREADS as LOADING_THREADS,
    )
    from recon.ingest.directory import (
        Inspection as Inspection,
    )
    from recon.ingest.directory import (
        canonical_kind as canonical_kind,
    )
    from recon.ingest.directory import (
        inspect_directory as inspect_directory,
    )
    from recon.ingest.directory import (
        load_directory as load_directory,
    )
    from recon.ingest.directory import (
        source_files as source_files,
    )
    from recon.ingest.files import (
        describe as describe,
    )
    from recon.ingest.files import (
        load_entry as load_entry,
    )
    from recon.ingest.files import (
        load_file as load_file,
    )
    from recon.ingest.files import (
        load_source as load_source,
    )
    from recon.ingest.files import (
        read_options as read_options,
    )
    from recon.ingest.files import (
        recorded as recorded,
    )
    from recon.ingest.files import (
        with_hash as with_hash,
    )
    from recon.ingest.guard import (
        EXCEL_SUFFIXES as EXCEL_SUFFIXES,
    )
    from recon.ingest.guard import (
        MAX_COLUMN_NAME as MAX_COLUMN_NAME,
    )
    from recon.ingest.guard import (
        TABLE_SUFFIXES as TABLE_SUFFIXES,
    )
    from recon.ingest.guard import (
        FileBytes as FileBytes,
    )
    from recon.ingest.guard import (
        UploadLimits as UploadLimits,
    )
    from recon.ingest.guard import (
        check_header_width as check_header_width,
    )
    from recon.ingest.guard import (
        check_upload as check_upload,
    )
    from recon.ingest.guard import (
        check_xlsx_archive as check_xlsx_archive,
    )
    from recon.ingest.guard import (
        safe_file_name as safe_file_name,
    )
    from recon.ingest.normalise import (
        FALSE_WORDS as FALSE_WORDS,
    )
    from recon.ingest.normalise import (
        FREQUENCY_WORDS as FREQUENCY_WORDS,
    )
    from recon.ingest.normalise import (
        TRUE_WORDS as TRUE_WORDS,
    )
    from recon.ingest.normalise import (
        LoadedSource as LoadedSource,
    )
    from recon.ingest.normalise import (
        ParsedFile as ParsedFile,
    )
    from recon.ingest.normalise import (
        Parser as Parser,
    )
    from recon.ingest.normalise import (
        Prepare as Prepare,
    )
    from recon.ingest.normalise import (
        column_list as column_list,
    )
    from recon.ingest.normalise import (
        match_columns as match_columns,
    )
    from recon.ingest.normalise import (
        missing_required as missing_required,
    )
    from recon.ingest.normalise import (
        month_end as month_end,
    )
    from recon.ingest.normalise import (
        month_start as month_start,
    )
    from recon.ingest.normalise import (
        normalise as normalise,
    )
    from recon.ingest.normalise import (
        parse_cells as parse_cells,
    )
    from recon.ingest.normalise import (
        parse_dates as parse_dates,
    )
    from recon.ingest.normalise import (
        with_verdict as with_verdict,
    )
    from recon.ingest.presets import (
        AUTOTASK_CONTRACT_UNITS as AUTOTASK_CONTRACT_UNITS,
    )
    from recon.ingest.presets import (
        CONNECTWISE_ADDITIONS as CONNECTWISE_ADDITIONS,
    )
    from recon.ingest.presets import (
        CONNECTWISE_TIME as CONNECTWISE_TIME,
    )
    from recon.ingest.presets import (
        DERIVED_SUFFIX as DERIVED_SUFFIX,
    )
    from recon.ingest.presets import (
        DETECTION_THRESHOLD as DETECTION_THRESHOLD,
    )
    from recon.ingest.presets import (
        MICROSOFT_NCE as MICROSOFT_NCE,
    )
    from recon.ingest.presets import (
        PAX8_INVOICE_ITEMS as PAX8_INVOICE_ITEMS,
    )
    from recon.ingest.presets import (
        PRESETS as PRESETS,
    )
    from recon.ingest.presets import (
        Detection as Detection,
    )
    from recon.ingest.presets import (
        Preset as Preset,
    )
    from recon.ingest.presets import (
        derived_column as derived_column,
    )
    from recon.ingest.presets import (
        detect_preset as detect_preset,
    )
    from recon.ingest.presets import (
        fold as fold,
    )
    from recon.ingest.presets import (
        microsoft_rows as microsoft_rows,
    )
    from recon.ingest.presets import (
        months_covered as months_covered,
    )
    from recon.ingest.presets import (
        pax8_rows as pax8_rows,
    )
    from recon.ingest.presets import (
        preset_names as preset_names,
    )
    from recon.ingest.profile import (
        DECIMAL_MARKS as DECIMAL_MARKS,
    )
    from recon.ingest.profile import (
        ENTRY_KEYS as ENTRY_KEYS,
    )
    from recon.ingest.profile import (
        FUZZY_MIN_SCORE as FUZZY_MIN_SCORE,
    )
    from recon.ingest.profile import (
        PROFILE_FILE as PROFILE_FILE,
    )
    from recon.ingest.profile import (
        SYNONYMS as SYNONYMS,
    )
    from recon.ingest.profile import (
        ColumnGuess as ColumnGuess,
    )
    from recon.ingest.profile import (
        SourceEntry as SourceEntry,
    )
    from recon.ingest.profile import (
        entry_from_dict as entry_from_dict,
    )
    from recon.ingest.profile import (
        parse_profile as parse_profile,
    )
    from recon.ingest.profile import (
        profile_to_toml as profile_to_toml,
    )
    from recon.ingest.profile import (
        read_profile as read_profile,
    )
    from recon.ingest.profile import (
        suggest_entry as suggest_entry,
    )
    from recon.ingest.profile import (
        suggest_mapping as suggest_mapping,
    )
    from recon.ingest.quality import (
        CURRENCY_FIELD as CURRENCY_FIELD,
    )
    from recon.ingest.quality import (
        DATE_ORDER as DATE_ORDER,
    )
    from recon.ingest.quality import (
        EARLIEST_DATE as EARLIEST_DATE,
    )
    from recon.ingest.quality import (
        GX_TYPES as GX_TYPES,
    )
    from recon.ingest.quality import (
        ISO_4217 as ISO_4217,
    )
    from recon.ingest.quality import (
        LATEST_DATE as LATEST_DATE,
    )
    from recon.ingest.quality import (
        NON_NEGATIVE as NON_NEGATIVE,
    )
    from recon.ingest.quality import (
        RESULT_FORMAT as RESULT_FORMAT,
    )
    from recon.ingest.quality import (
        TYPE_WORDS as TYPE_WORDS,
    )
    from recon.ingest.quality import (
        UNIQUE_KEYS as UNIQUE_KEYS,
    )
    from recon.ingest.quality import (
        Validation as Validation,
    )
    from recon.ingest.quality import (
        given_column as given_column,
    )
    from recon.ingest.quality import (
        import_in_background as import_in_background,
    )
    from recon.ingest.quality import (
        suite_checks as suite_checks,
    )
    from recon.ingest.quality import (
        validate as validate,
    )
    from recon.ingest.quality import (
        validate_together as validate_together,
    )
    from recon.ingest.reading import (
        DELIMITERS as DELIMITERS,
    )
    from recon.ingest.reading import (
        ENCODINGS as ENCODINGS,
    )
    from recon.ingest.reading import (
        SNIFF_CHARS as SNIFF_CHARS,
    )
    from recon.ingest.reading import (
        ReadOptions as ReadOptions,
    )
    from recon.ingest.reading import (
        decode_text as decode_text,
    )
    from recon.ingest.reading import (
        read_delimited as read_delimited,
    )
    from recon.ingest.reading import (
        read_table as read_table,
    )
    from recon.ingest.reading import (
        sha256_of as sha256_of,
    )
    from recon.ingest.reading import (
        sniff_delimiter as sniff_delimiter,
    )
    from recon.ingest.reading import (
        table_sheet as table_sheet,
    )

_EXPORTS = {
    "EXCEL_SUFFIXES": "recon.ingest.guard",
    "FileBytes": "recon.ingest.guard",
    "MAX_COLUMN_NAME": "recon.ingest.guard",
    "TABLE_SUFFIXES": "recon.ingest.guard",
    "UploadLimits": "recon.ingest.guard",
    "check_header_width": "recon.ingest.guard",
    "check_upload": "recon.ingest.guard",
    "check_xlsx_archive": "recon.ingest.guard",
    "safe_file_name": "recon.ingest.guard",
    "DELIMITERS": "recon.ingest.reading",
    "ENCODINGS": "recon.ingest.reading",
    "ReadOptions": "recon.ingest.reading",
    "SNIFF_CHARS": "recon.ingest.reading",
    "decode_text": "recon.ingest.reading",
    "read_delimited": "recon.ingest.reading",
    "read_table": "recon.ingest.reading",
    "sha256_of": "recon.ingest.reading",
    "sniff_delimiter": "recon.ingest.reading",
    "table_sheet": "recon.ingest.reading",
    "AUTOTASK_CONTRACT_UNITS": "recon.ingest.presets",
    "CONNECTWISE_ADDITIONS": "recon.ingest.presets",
    "CONNECTWISE_TIME": "recon.ingest.presets",
    "DERIVED_SUFFIX": "recon.ingest.presets",
    "DETECTION_THRESHOLD": "recon.ingest.presets",
    "Detection": "recon.ingest.presets",
    "MICROSOFT_NCE": "recon.ingest.presets",
    "PAX8_INVOICE_ITEMS": "recon.ingest.presets",
    "PRESETS": "recon.ingest.presets",
    "Preset": "recon.ingest.presets",
    "derived_column": "recon.ingest.presets",
    "detect_preset": "recon.ingest.presets",
    "fold": "recon.ingest.presets",
    "microsoft_rows": "recon.ingest.presets",
    "months_covered": "recon.ingest.presets",
    "pax8_rows": "recon.ingest.presets",
    "preset_names": "recon.ingest.presets",
    "ColumnGuess": "recon.ingest.profile",
    "DECIMAL_MARKS": "recon.ingest.profile",
    "ENTRY_KEYS": "recon.ingest.profile",
    "FUZZY_MIN_SCORE": "recon.ingest.profile",
    "PROFILE_FILE": "recon.ingest.profile",
    "SYNONYMS": "recon.ingest.profile",
    "SourceEntry": "recon.ingest.profile",
    "entry_from_dict": "recon.ingest.profile",
    "parse_profile": "recon.ingest.profile",
    "profile_to_toml": "recon.ingest.profile",
    "read_profile": "recon.ingest.profile",
    "suggest_entry": "recon.ingest.profile",
    "suggest_mapping": "recon.ingest.profile",
    "FALSE_WORDS": "recon.ingest.normalise",
    "FREQUENCY_WORDS": "recon.ingest.normalise",
    "LoadedSource": "recon.ingest.normalise",
    "ParsedFile": "recon.ingest.normalise",
    "Parser": "recon.ingest.normalise",
    "Prepare": "recon.ingest.normalise",
    "TRUE_WORDS": "recon.ingest.normalise",
    "column_list": "recon.ingest.normalise",
    "match_columns": "recon.ingest.normalise",
    "missing_required": "recon.ingest.normalise",
    "month_end": "recon.ingest.normalise",
    "month_start": "recon.ingest.normalise",
    "normalise": "recon.ingest.normalise",
    "parse_cells": "recon.ingest.normalise",
    "parse_dates": "recon.ingest.normalise",
    "with_verdict": "recon.ingest.normalise",
    "CURRENCY_FIELD": "recon.ingest.quality",
    "DATE_ORDER": "recon.ingest.quality",
    "EARLIEST_DATE": "recon.ingest.quality",
    "GX_TYPES": "recon.ingest.quality",
    "ISO_4217": "recon.ingest.quality",
    "LATEST_DATE": "recon.ingest.quality",
    "NON_NEGATIVE": "recon.ingest.quality",
    "RESULT_FORMAT": "recon.ingest.quality",
    "TYPE_WORDS": "recon.ingest.quality",
    "UNIQUE_KEYS": "recon.ingest.quality",
    "Validation": "recon.ingest.quality",
    "given_column": "recon.ingest.quality",
    "import_in_background": "recon.ingest.quality",
    "suite_checks": "recon.ingest.quality",
    "validate": "recon.ingest.quality",
    "validate_together": "recon.ingest.quality",
    "describe": "recon.ingest.files",
    "load_entry": "recon.ingest.files",
    "load_file": "recon.ingest.files",
    "load_source": "recon.ingest.files",
    "read_options": "recon.ingest.files",
    "recorded": "recon.ingest.files",
    "with_hash": "recon.ingest.files",
    "Inspection": "recon.ingest.directory",
    "LOADING_THREADS": "recon.ingest.directory",
    "canonical_kind": "recon.ingest.directory",
    "inspect_directory": "recon.ingest.directory",
    "load_directory": "recon.ingest.directory",
    "source_files": "recon.ingest.directory",
}
__getattr__, __dir__ = lazy.exports(globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)
