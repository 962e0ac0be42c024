"""The file-writing commands' shared runner: stdout holds only the written paths, logs go to
stderr as JSON lines (as the run's do), whichever command logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from PaymentProcess.common.file_command import run_file_command
from PaymentProcess.utils.logging import get_logger


def test_a_warning_while_writing_goes_to_stderr_as_json_not_among_the_paths(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = tmp_path / "PE-1_101.835"

    def write(store: object) -> list[Path]:
        get_logger("PaymentProcess.remittance.builder").warning(
            "835 without payee address", payment_center_id=101)
        return [written]

    run_file_command("mongomock://", 5.0, write)
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(written)]
    lines = [json.loads(line) for line in err.splitlines()]
    assert [(line["event"], line["level"], line["payment_center_id"]) for line in lines] == [
        ("835 without payee address", "warning", 101)]
