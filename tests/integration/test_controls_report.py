"""Spec section 14, the auditor's report: a self-contained HTML page whose figures are the
stored stats'. It is opened in headless Chromium (Debian's ``chromium``), which must show
exactly those figures; without Chromium that test is skipped with the reason."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from PaymentProcess.controls.report import distribution, write_report
from PaymentProcess.controls.void import VoidProcessor, VoidRequest
from PaymentProcess.data.models.controls import VoidReason
from PaymentProcess.data.repositories.control_repository import ControlRepository
from PaymentProcess.utils.error_handling import ConfigurationError
from tests.approval_support import approve_latest, controls_cli
from tests.conftest import GOLDEN_STORE
from tests.integration.resume_support import EVENT, memory_store, processor

CHROMIUM = shutil.which("chromium")


@dataclass
class Shown:
    """The figures a page shows, read from its DOM by their data attributes."""

    totals: dict[str, str] = field(default_factory=dict)
    payees: dict[str, dict[str, str]] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)
    sums: dict[str, str] = field(default_factory=dict)
    findings: dict[str, str] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    bars: list[int] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


class DomReader(HTMLParser):
    """Collects :class:`Shown` from the page's ``data-*`` attributes and their text."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = Shown()
        self._target: tuple[Any, str] | None = None
        self._payee: str | None = None
        self._finding: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href"):
            if a.get(name):
                self.shown.external.append(a[name] or "")
        if tag == "tr" and "data-payee" in a:
            self._payee = a["data-payee"]
            self.shown.payees[self._payee] = {}
        if tag == "section" and "data-code" in a:
            self._finding = a["data-code"]
        if tag == "rect" and "data-count" in a:
            self.shown.bars.append(int(a["data-count"] or 0))
        if tag == "tr" and "data-action" in a:
            self.shown.actions.append(a["data-action"] or "")
        if "data-sample" in a:
            self.shown.samples.append(a["data-sample"] or "")
        if "data-total" in a:
            self._target = (self.shown.totals, a["data-total"] or "")
        elif "data-sum" in a:
            self._target = (self.shown.sums, a["data-sum"] or "")
        elif "data-field" in a:
            name = a["data-field"] or ""
            if self._finding is not None and name == "count":
                self._target = (self.shown.findings, self._finding)
            elif self._payee is not None:
                self._target = (self.shown.payees[self._payee], name)
            else:
                self._target = (self.shown.fields, name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._payee = None
        if tag == "section":
            self._finding = None
        if tag in ("td", "span"):
            self._target = None

    def handle_data(self, data: str) -> None:
        if self._target is not None:
            where, name = self._target
            where[name] = where.get(name, "") + data.strip()


def read_dom(html: str) -> Shown:
    reader = DomReader()
    reader.feed(html)
    return reader.shown


@pytest.fixture(scope="module")
def paid_store():
    store = memory_store()
    assert processor(store).run_dry_run(EVENT).exit_code == 0
    approve_latest(store.db, EVENT, "auditor-approver")
    final = processor(store).run_final_run(EVENT)
    VoidProcessor(store).run(VoidRequest(EVENT, "PE-G1:107", VoidReason.RETURNED, "clerk",
                                         reissue=True))
    return store, final.run_id


def assert_shows_the_stats(shown: Shown, stats: dict[str, Any], approval: dict[str, Any]) -> None:
    """Every figure on the page equals the stored stats (amounts to the cent)."""
    assert shown.fields["run_id"] == stats["_id"] and shown.fields["status"] == "SUCCEEDED"
    assert shown.totals == {name: str(value.to_decimal())
                            for name, value in stats["totals"].items()}
    assert shown.totals["disbursed"] == "384.88" and shown.sums["disbursed"] == "384.88"
    for row in stats["payees"]:
        cells = shown.payees[str(row["PaymentCenter_ID"])]
        for name in ("disbursed", "held", "offset", "recouped", "under_consumed", "new_over"):
            assert cells[name] == str(row[name].to_decimal()), (row["key"], name)
        assert cells.get("held_reason", "") == (row["held_reason"] or "")
        assert cells.get("number", "") == (row["number"] or "")
    assert len(shown.payees) == len(stats["payees"]) == 7
    assert sum(Decimal(c["held"]) for c in shown.payees.values()) == Decimal(shown.sums["held"])
    assert shown.findings == {f["code"]: str(f["count"]) for f in stats["findings"]}
    assert set(shown.samples) == {s for f in stats["findings"] for s in f["samples"]}
    assert (shown.fields["approver"], shown.fields["approved_run_id"],
            shown.fields["fingerprint"]) == (approval["approver"], approval["run_id"],
                                             approval["fingerprint"])
    paid = sum(1 for row in stats["payees"] if row["disbursed"].to_decimal() > 0)
    assert sum(shown.bars) == paid and len(shown.bars) == 8
    assert shown.actions == ["PE-G1:107:VOID"]
    assert shown.external == []  # self-contained: nothing fetched


def test_the_report_shows_the_stored_figures(paid_store, tmp_path: Path) -> None:
    store, run_id = paid_store
    out = write_report(ControlRepository(store.db), EVENT, tmp_path / "audit.html")
    html = out.read_text()
    stats = store.db.PaymentEventStats.find_one({"_id": run_id})
    approval = store.db.PaymentEvent.find_one({"_id": EVENT})["approval"]
    assert_shows_the_stats(read_dom(html), stats, approval)
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                    "(.ci/run installs it with apt-get where it can)")
def test_the_report_in_headless_chromium(paid_store, tmp_path: Path) -> None:
    store, run_id = paid_store
    out = write_report(ControlRepository(store.db), EVENT, tmp_path / "audit.html")
    assert CHROMIUM is not None
    dumped = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", out.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert "<svg" in dumped.stdout and "</html>" in dumped.stdout
    stats = store.db.PaymentEventStats.find_one({"_id": run_id})
    approval = store.db.PaymentEvent.find_one({"_id": EVENT})["approval"]
    assert_shows_the_stats(read_dom(dumped.stdout), stats, approval)


def test_a_dry_run_report_without_approval_and_with_findings(tmp_path: Path) -> None:
    store = memory_store()
    dry = processor(store).run_dry_run("PE-G2")
    out = write_report(ControlRepository(store.db), "PE-G2", tmp_path / "g2.html")
    html = out.read_text()
    shown = read_dom(html)
    assert 'id="approval">Not approved.' in html
    critical = [f for f in dry.report.as_documents() if f["severity"] == "CRITICAL"]
    assert critical and all(shown.findings[f["code"]] == str(f["count"]) for f in critical)
    with pytest.raises(ConfigurationError, match="is not a run of PE-G2"):
        write_report(ControlRepository(store.db), "PE-G2", tmp_path / "x.html", "nope")


def test_a_sample_with_markup_is_shown_as_text(tmp_path: Path) -> None:
    store = memory_store()
    store.db.ClaimWSCore.update_one({"_id": "C1001"},
                                    {"$set": {"ClaimType": "<script>alert(1)</script>"}})
    processor(store).run_dry_run(EVENT)
    html = write_report(ControlRepository(store.db), EVENT, tmp_path / "x.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_distribution_buckets() -> None:
    bars = distribution([Decimal("10.00"), Decimal("80.00"), Decimal("0"), Decimal("79.99")])
    assert [bar.count for bar in bars] == [1, 0, 0, 0, 0, 0, 0, 2]
    assert (bars[0].low, bars[-1].high) == (Decimal("0.00"), Decimal("80.00"))
    assert distribution([Decimal("0")]) == []


def test_report_through_the_command_line(tmp_path: Path) -> None:
    missing = controls_cli("report", "-p", EVENT, "--db-uri", f"mongomock://{tmp_path / 's'}",
                           "--out", str(tmp_path / "r.html"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    assert not (tmp_path / "s").exists()  # a control never creates a store
    shutil.copytree(GOLDEN_STORE, tmp_path / "golden")
    uri = f"mongomock://{tmp_path / 'golden'}"
    unknown = controls_cli("report", "-p", "PE-NOPE", "--db-uri", uri, "--out",
                           str(tmp_path / "r.html"))
    assert unknown.returncode == 2 and "unknown payment event" in unknown.stderr
    no_run = controls_cli("report", "-p", EVENT, "--db-uri", uri, "--out", str(tmp_path / "r.html"))
    assert no_run.returncode == 3 and "has no dry or final run to report on" in no_run.stderr
    assert not (tmp_path / "r.html").exists()
