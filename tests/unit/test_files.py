"""The private atomic file writer: mode 0640, no symlink followed, nothing half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from PaymentProcess.utils.files import write_private_file_atomically


def test_writes_the_bytes_with_mode_0640_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_private_file_atomically(tmp_path / "a.835", b"ISA*00~\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.835").read_bytes() == b"ISA*00~\n"
    assert stat.S_IMODE((tmp_path / "a.835").stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.835"]


def test_replaces_an_existing_file_and_tightens_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.835"
    target.write_bytes(b"old")
    target.chmod(0o666)
    write_private_file_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_symlink_at_the_path_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    link = tmp_path / "a.835"
    link.symlink_to(victim)
    write_private_file_atomically(link, b"835")
    assert victim.read_bytes() == b"keep me"
    assert not link.is_symlink() and link.read_bytes() == b"835"


def test_a_directory_in_the_way_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "a.835").mkdir()
    with pytest.raises(OSError):
        write_private_file_atomically(tmp_path / "a.835", b"835")
    assert [p.name for p in tmp_path.iterdir()] == ["a.835"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_directory_raises_oserror(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError):
            write_private_file_atomically(tmp_path / "a.835", b"835")
    finally:
        tmp_path.chmod(0o700)
