"""A data directory is a jail (issue 23, item 6): no ``profile.toml`` path leads out of it, and no link is
followed out of it. ``payments.csv`` linked to ``/proc/self/environ`` printed the server's environment
(``RECON_CONN_PSA_PASSWORD=...``) through ``recon validate``; an absolute path was a traceback.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recon.cli import app
from recon.errors import ProfileError
from recon.ingest.directory import inspect_directory
from recon.ingest.jail import glob_matches, path_problem

SAMPLE = Path(__file__).resolve().parents[3] / "sample_data"
runner = CliRunner()


def sample_copy(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for path in SAMPLE.glob("*.csv"):
        if path.stem not in ("answer_key", "expected_unmapped"):
            shutil.copy(path, data / path.name)
    return data


def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.csv").write_text("sku,description\nSECRET-SKU,the secret\n")
    return folder


@pytest.mark.parametrize(("path", "problem"), [
    ("../outside/*.csv", "must stay inside the data directory (no '..')"),
    ("{outside}/secret.csv", "must be relative to the data directory, not an absolute path"),
])
def test_profile_paths_out_of_the_directory_are_refused_by_the_profile(tmp_path: Path, path: str,
                                                                       problem: str) -> None:
    data = sample_copy(tmp_path)
    path = path.format(outside=outside(tmp_path))
    (data / "profile.toml").write_text(f'[[source]]\npath = "{path}"\nkind = "catalog"\n')
    with pytest.raises(ProfileError, match=re.escape(f"path '{path}' {problem}: a data directory is a jail")):
        inspect_directory(data)
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 1 and "Traceback" not in result.output and "SECRET-SKU" not in result.output


def test_a_file_linked_to_the_process_environment_is_refused_never_read(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECON_CONN_PSA_PASSWORD", "hunter2-not-to-be-seen")
    data = sample_copy(tmp_path)
    (data / "payments.csv").unlink()
    (data / "payments.csv").symlink_to("/proc/self/environ")
    refused = {report.file: report for report in inspect_directory(data).refused}
    assert refused["payments.csv"].problems == (
        "is a link to a place outside the data directory; links out of it are not followed (copy the file into "
        "the data directory instead)",)
    result = runner.invoke(app, ["validate", "--data", str(data)])
    assert result.exit_code == 1
    assert "hunter2" not in result.output and "RECON_CONN" not in result.output


def test_links_to_a_file_or_a_folder_outside_are_not_followed(tmp_path: Path) -> None:
    data = sample_copy(tmp_path)
    secrets = outside(tmp_path)
    (data / "catalog.csv").unlink()
    (data / "catalog.csv").symlink_to(secrets / "secret.csv")
    (data / "more").symlink_to(secrets)
    (data / "profile.toml").write_text('[[source]]\npath = "more/*.csv"\nkind = "catalog"\n')
    inspection = inspect_directory(data)
    assert [report.file for report in inspection.refused] == ["catalog.csv"]
    assert all("SECRET" not in str(item.frame.to_dict()) for item in inspection.loaded)
    assert inspection.ignored == ("more/: is a link to a place outside the data directory; links out of it are "
                                  "not followed (copy the file into the data directory instead)",)


def test_a_link_that_stays_inside_and_a_nested_folder_are_read(tmp_path: Path) -> None:
    data = sample_copy(tmp_path)
    (data / "vendors").mkdir()
    shutil.move(data / "usage_pax8.csv", data / "vendors" / "pax8.csv")
    (data / "usage_again.csv").symlink_to(data / "usage_datto.csv")
    (data / "profile.toml").write_text('[[source]]\npath = "vendors/*.csv"\nkind = "usage"\n')
    loaded = {item.record.file for item in inspect_directory(data).loaded}
    assert {"pax8.csv", "usage_again.csv"} <= loaded  # (a record names the file, not its folder)


def test_a_fifo_is_not_read(tmp_path: Path) -> None:
    data = sample_copy(tmp_path)
    os.mkfifo(data / "usage_pipe.csv")
    refused = {report.file: report.problems for report in inspect_directory(data).refused}
    assert refused == {"usage_pipe.csv": ("is not a regular file (a device, pipe or socket); not read",)}


@pytest.mark.parametrize(("pattern", "name", "matches"), [
    ("pax8/*.csv", "pax8/jan.csv", True), ("pax8/*.csv", "pax8/deeper/jan.csv", False),
    ("**/*.csv", "a/b/c.csv", True), ("**/*.csv", "c.csv", True), ("PAX8/Jan?.CSV", "pax8/jan1.csv", True),
    ("pax8/[ab].csv", "pax8/c.csv", False),
])
def test_profile_globs_stay_within_folder_names(pattern: str, name: str, matches: bool) -> None:
    assert glob_matches(pattern, name) is matches
    assert path_problem(pattern) is None
