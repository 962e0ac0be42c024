"""The embedded store: Extended JSON files, atomic checkpoints, the lock, the cursor patch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import mongomock_ng
import mongomock_ng.collection
import pytest
from bson import Decimal128, Int64, ObjectId, json_util
from pymongo import InsertOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from PaymentProcess.data import mongomock_patches
from PaymentProcess.data.embedded_store import EmbeddedStore
from PaymentProcess.utils.error_handling import ConcurrencyError, ConfigurationError
from tests.conftest import GOLDEN_STORE

REPO_ROOT = Path(__file__).resolve().parents[2]

SAMPLE_DOCS = [
    {
        "_id": "C1",
        "amounts": [Decimal128("0.01"), Decimal128("-12.30"), Decimal128("9999999999999.99")],
        "due_date": datetime(2026, 11, 20),
        "received": datetime(2026, 1, 2, 3, 4, 5, 123000),
        "before_epoch": datetime(1969, 7, 20, 20, 17),
        "count": 7,
        "big": 2**40,
        "name": "Zoë Ærø – 東京クリニック 🚑",
        "nested": {
            "lines": [{"n": 1, "paid": Decimal128("64.00")}, {"n": 2, "tags": [[1, 2], []]}]
        },
        "flags": [True, False, None],
    },
    {"_id": ObjectId("65de351417a1b0a8c0ffee00"), "amount": Decimal128("100.00"), "note": ""},
    {"_id": 101, "ratio": 0.5},
]


def snapshot(path: Path) -> dict[str, bytes]:
    """The bytes of every collection file of a store directory."""
    return {file.name: file.read_bytes() for file in sorted(path.glob("*.jsonl"))}


def copy_golden(tmp_path: Path) -> Path:
    """A writable copy of the golden store (the original must never be opened: it gets a lock)."""
    target = tmp_path / "golden"
    shutil.copytree(GOLDEN_STORE, target)
    for file in [target, *target.iterdir()]:
        file.chmod(0o755 if file.is_dir() else 0o644)
    return target


def write_lines(path: Path, name: str, lines: list[str]) -> Path:
    """Write a collection file from raw lines."""
    path.mkdir(parents=True, exist_ok=True)
    file = path / f"{name}.jsonl"
    file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return file


# --- Extended JSON round trip -------------------------------------------------------------


def test_round_trip_keeps_types_and_is_byte_stable(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "s") as store:
        store.db.Claims.insert_many([dict(doc) for doc in SAMPLE_DOCS])
        store.checkpoint()
    first = snapshot(tmp_path / "s")

    with EmbeddedStore(tmp_path / "s") as store:
        loaded = list(store.db.Claims.find({}))
        assert loaded == SAMPLE_DOCS  # same values, same insertion order
        claim = loaded[0]
        assert all(type(a) is Decimal128 for a in claim["amounts"])
        assert str(claim["amounts"][1]) == "-12.30"
        assert claim["due_date"] == datetime(2026, 11, 20) and claim["due_date"].tzinfo is None
        assert claim["received"].microsecond == 123000
        assert claim["before_epoch"] == datetime(1969, 7, 20, 20, 17)
        assert type(claim["count"]) is int and claim["big"] == 2**40
        assert claim["name"] == "Zoë Ærø – 東京クリニック 🚑"
        store.checkpoint()
    assert snapshot(tmp_path / "s") == first

    lines = first["Claims.jsonl"].decode("utf-8").splitlines()
    assert len(lines) == 3
    assert json.loads(lines[0])["amounts"][0] == {"$numberDecimal": "0.01"}
    assert json.loads(lines[0])["due_date"] == {"$date": "2026-11-20T00:00:00Z"}


def test_loads_canonical_and_relaxed_alike_and_skips_blank_lines(tmp_path: Path) -> None:
    write_lines(
        tmp_path,
        "Mixed",
        [
            '{"_id": {"$numberInt": "1"}, "n": {"$numberLong": "5"}, '
            '"d": {"$date": {"$numberLong": "1795132800000"}}, "a": {"$numberDecimal": "1.50"}}',
            "",
            "   ",
            '{"_id": 2, "n": 5, "d": {"$date": "2026-11-20T00:00:00Z"}, '
            '"a": {"$numberDecimal": "1.50"}}',
        ],
    )
    with EmbeddedStore(tmp_path) as store:
        canonical, relaxed = store.db.Mixed.find({})
    assert canonical["_id"] == 1 and relaxed["_id"] == 2
    for doc in (canonical, relaxed):
        assert doc["n"] == 5
        assert doc["d"] == datetime(2026, 11, 20)
        assert doc["a"] == Decimal128("1.50")
    assert type(canonical["n"]) is Int64


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"_id": 1, "a": ', "Expecting value"),
        ("[1, 2]", "expected a document, got list"),
        ('{"_id": 1, "a": {"$numberDecimal": "ten"}}', ""),
        ('{"_id": 1, "d": {"$date": "yesterday"}}', ""),
        ('{"_id": {"$oid": null}}', '{"$oid": null} names no ObjectId'),
    ],
)
def test_a_bad_line_is_a_one_line_configuration_error(
    tmp_path: Path, line: str, reason: str
) -> None:
    file = write_lines(tmp_path, "Bad", ['{"_id": 0}', "", line])
    with pytest.raises(ConfigurationError) as info:
        EmbeddedStore(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{file}:3: not valid Extended JSON: ")
    assert reason in message
    assert "\n" not in message and "Traceback" not in message


def test_a_duplicate_id_names_its_line(tmp_path: Path) -> None:
    file = write_lines(tmp_path, "Dup", ['{"_id": 1}', '{"_id": 2}', "", '{"_id": 1}'])
    with pytest.raises(ConfigurationError, match=rf"^{file}:4: cannot load: .*[Dd]uplicate"):
        EmbeddedStore(tmp_path)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"_id": 9, "$set": 1}', "Top-level field names cannot start with"),
        ('{"_id": 9, "a": {"b\\u0000c": 1}}', "null character"),
        ('{"_id": 9, "n": 123456789012345678901234567890}', "8-byte ints"),
    ],
)
def test_a_document_mongodb_refuses_names_its_line(tmp_path: Path, line: str,
                                                   reason: str) -> None:
    file = write_lines(tmp_path, "Bad", ['{"_id": 1}', '{"_id": 2}', line, '{"_id": 3}'])
    with pytest.raises(ConfigurationError, match=rf"^{file}:3: cannot load: .*{reason}"):
        EmbeddedStore(tmp_path)


def test_loads_as_insert_many_inserts(tmp_path: Path) -> None:
    """Bulk-loaded chunks, lines only json_util reads and documents without an ``_id``
    end up as ``insert_many`` of the json_util-parsed lines leaves them, in file order."""

    lines = ['{"_id": "a", "d": {"$date": "2026-11-20T08:19:11.463Z"}}',
             '{"_id": "b", "d": {"$date": "2026-11-20T08:19:11.463+01:00"}}',
             '{"_id": "c", "x": {"$binary": "AAEC", "$type": "00"}}',
             '{"n": 1}',
             '{"_id": {"k": 1}, "n": 2}',
             '{"_id": 5, "d": {"$date": "2026-11-20T08:19:11.463Z"}, "v": [{"w": null}]}']
    write_lines(tmp_path / "s", "Mixed", lines)
    expected = mongomock_ng.MongoClient(tz_aware=False).db.Mixed
    expected.insert_many([json_util.loads(line) for line in lines])
    with EmbeddedStore(tmp_path / "s") as store:
        loaded = list(store.db.Mixed.find({}, {"_id": 0}))
        assert loaded == list(expected.find({}, {"_id": 0}))
        assert [d["_id"] for d in store.db.Mixed.find({"n": {"$exists": False}})] == [
            "a", "b", "c", 5]
        assert store.db.Mixed.find_one({"_id": "b"})["d"] == datetime(2026, 11, 20, 7, 19, 11,
                                                                       463000)


def test_loading_leaves_the_collector_as_it_was_and_the_documents_frozen(
        tmp_path: Path) -> None:
    import gc

    write_lines(tmp_path / "s", "C", [json.dumps({"_id": i, "l": [{"a": i}]}) for i in range(50)])
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        frozen = gc.get_freeze_count()
        try:
            with EmbeddedStore(tmp_path / "s") as store:
                assert gc.isenabled() is enabled
                assert gc.get_freeze_count() >= frozen + 50 * 3  # each document, list, line
                assert store.db.C.count_documents({}) == 50
        finally:
            gc.enable()
            gc.unfreeze()


def test_a_failed_open_releases_the_lock(tmp_path: Path) -> None:
    write_lines(tmp_path, "Bad", ["not json"])
    with pytest.raises(ConfigurationError):
        EmbeddedStore(tmp_path)
    (tmp_path / "Bad.jsonl").unlink()
    EmbeddedStore(tmp_path).close()


# --- golden store -------------------------------------------------------------------------


def test_loads_the_golden_store(tmp_path: Path) -> None:
    path = copy_golden(tmp_path)
    with EmbeddedStore(path) as store:
        counts = {
            name: store.db[name].count_documents({}) for name in store.db.list_collection_names()
        }
        assert counts == {
            "ClaimFinCore": 3,
            "ClaimWSCore": 22,
            "FundingSource": 1,
            "InclusionCriteria": 1,
            "InterestRules": 1,
            "OverUnder": 4,
            "PaymentCenter": 6,
            "PaymentEvent": 2,
            "Sequences": 3,
        }
        assert store.db.PaymentCenter.find_one({"_id": 101}) == {
            "_id": 101,
            "key": "PROVIDER:741000001:1000000012",
            "type": "PROVIDER",
            "vendor_name": "North Clinic PA",
            "tax_id": "741000001",
            "npi": "1000000012",
            "member_id": None,
            "address": {"line1": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75001"},
            "payment_method": "CHECK",
            "status": "ACTIVE",
        }
        event = store.db.PaymentEvent.find_one({"_id": "PE-G1"})
        assert event["due_date"] == datetime(2026, 11, 20)
        assert event["payment_reduction_pct"] == Decimal128("2.00")
        store.checkpoint()
    # The golden files are json_util's format (``", "``, ASCII); ours is compact UTF-8
    # with the same documents, values and key order, as json_util reads them.
    written, golden = snapshot(path), snapshot(GOLDEN_STORE)
    assert written.keys() == golden.keys() and written != golden
    for name, text in written.items():
        assert [repr(json_util.loads(line)) for line in text.splitlines()] == [
            repr(json_util.loads(line)) for line in golden[name].splitlines()]
    with EmbeddedStore(path) as store:
        store.checkpoint()
    assert snapshot(path) == written


# --- checkpoints --------------------------------------------------------------------------


def test_checkpoint_writes_named_collections_and_empty_files_for_dropped_ones(
    tmp_path: Path,
) -> None:
    with EmbeddedStore(tmp_path) as store:
        store.db.A.insert_one({"_id": 1})
        store.db.B.insert_one({"_id": 1})
        store.checkpoint()
        store.db.A.insert_one({"_id": 2})
        store.db.B.insert_one({"_id": 2})
        store.checkpoint(["A", "Empty"])
        assert (tmp_path / "A.jsonl").read_text() == '{"_id":1}\n{"_id":2}\n'
        assert (tmp_path / "B.jsonl").read_text() == '{"_id":1}\n'  # not named: untouched
        assert (tmp_path / "Empty.jsonl").read_text() == ""
        store.db.drop_collection("A")
        store.checkpoint()
        assert (tmp_path / "A.jsonl").read_text() == ""
        assert not (tmp_path / ".staging").exists()
    with EmbeddedStore(tmp_path) as store:
        assert sorted(store.db.list_collection_names()) == ["A", "B", "Empty"]
        assert store.db.A.count_documents({}) == 0
        assert store.db.B.count_documents({}) == 2


def test_checkpoint_refuses_a_single_name_or_an_unstorable_one(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        with pytest.raises(TypeError):
            store.checkpoint("A")
        with pytest.raises(ValueError):
            store.checkpoint(["../A"])


def test_a_closed_store_refuses_to_checkpoint(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    store.db.A.insert_one({"_id": 1})
    store.close()
    store.close()  # idempotent
    with pytest.raises(ValueError, match="is closed"):
        store.checkpoint()
    assert not (tmp_path / "A.jsonl").exists()


def test_memory_store_checkpoint_is_a_no_op(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with EmbeddedStore(None) as store:
        store.db.A.insert_one({"_id": 1})
        store.checkpoint()
        assert store.db.name == "payments"
    assert list(tmp_path.iterdir()) == []


class Crash(Exception):
    """Stands for the process dying."""


def crash_on_replace(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make the ``call``-th os.replace raise: 1 is the COMMIT rename, 2.. the data files."""
    real_replace = os.replace
    calls = 0

    def replace(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == call:
            raise Crash
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def old_and_new_states(tmp_path: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The bytes of a store before and after the checkpoint the crash tests interrupt."""
    reference = tmp_path / "reference"
    with EmbeddedStore(reference) as store:
        store.db.A.insert_many([{"_id": i, "v": Decimal128("1.00")} for i in range(3)])
        store.db.B.insert_many([{"_id": i, "v": "old"} for i in range(3)])
        store.db.C.insert_one({"_id": 0})
        store.checkpoint()
        old = snapshot(reference)
        modify(store)
        store.checkpoint()
        new = snapshot(reference)
    assert old != new
    return old, new


def modify(store: EmbeddedStore) -> None:
    """The changes the interrupted checkpoint was writing, across three files."""
    store.db.A.update_many({}, {"$set": {"v": Decimal128("2.00")}})
    store.db.B.delete_one({"_id": 0})
    store.db.C.insert_one({"_id": 1})


def start_and_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: int) -> EmbeddedStore:
    """A store at the old state whose next checkpoint dies at the ``call``-th os.replace."""
    path = tmp_path / "store"
    store = EmbeddedStore(path)
    store.db.A.insert_many([{"_id": i, "v": Decimal128("1.00")} for i in range(3)])
    store.db.B.insert_many([{"_id": i, "v": "old"} for i in range(3)])
    store.db.C.insert_one({"_id": 0})
    store.checkpoint()
    modify(store)
    crash_on_replace(monkeypatch, call)
    with pytest.raises(Crash):
        store.checkpoint()
    monkeypatch.undo()
    return store


def test_crash_before_commit_leaves_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, _ = old_and_new_states(tmp_path)
    store = start_and_crash(tmp_path, monkeypatch, call=1)
    path = tmp_path / "store"
    assert (path / ".staging").is_dir() and not (path / ".staging" / "COMMIT").exists()
    store.close()  # the process dies: its lock goes, nothing more is written

    EmbeddedStore(path).close()
    assert snapshot(path) == old
    assert not (path / ".staging").exists()


def test_crash_after_commit_rolls_forward_to_the_new_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = old_and_new_states(tmp_path)
    store = start_and_crash(tmp_path, monkeypatch, call=3)  # A.jsonl replaced, B.jsonl not
    path = tmp_path / "store"
    assert (path / ".staging" / "COMMIT").exists()
    half = snapshot(path)
    assert half["A.jsonl"] == new["A.jsonl"] and half["B.jsonl"] == old["B.jsonl"]
    store.close()

    with EmbeddedStore(path) as reopened:
        assert snapshot(path) == new
        assert not (path / ".staging").exists()
        assert reopened.db.B.count_documents({}) == 2
        assert reopened.db.C.count_documents({}) == 2


def test_next_checkpoint_of_the_same_process_finishes_a_committed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, new = old_and_new_states(tmp_path)
    with start_and_crash(tmp_path, monkeypatch, call=3) as store:
        store.checkpoint(["Other"])
    files = snapshot(tmp_path / "store")
    assert files.pop("Other.jsonl") == b""
    assert files == new


def test_a_torn_staging_without_commit_is_discarded(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        store.db.A.insert_one({"_id": 1})
        store.checkpoint()
    (tmp_path / ".staging").mkdir()
    (tmp_path / ".staging" / "A.jsonl").write_text('{"_id": 1}\n{"_id": 2, "v": ')
    with EmbeddedStore(tmp_path) as store:
        assert list(store.db.A.find({})) == [{"_id": 1}]
    assert not (tmp_path / ".staging").exists()


# --- the lock -----------------------------------------------------------------------------


def test_a_second_opener_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "s"):
        with pytest.raises(ConcurrencyError) as info:
            EmbeddedStore(tmp_path / "s")
        assert str(info.value) == f"embedded store {tmp_path / 's'} is in use by another process"
        assert info.value.exit_code == 3
    EmbeddedStore(tmp_path / "s").close()  # free again once closed


def test_a_second_process_is_refused(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PaymentProcess.data.embedded_store import EmbeddedStore\n"
        "from PaymentProcess.utils.error_handling import ConcurrencyError\n"
        "try:\n"
        "    EmbeddedStore(Path(sys.argv[1]))\n"
        "except ConcurrencyError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(exc.exit_code)\n"
    )

    def other_process() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", code, str(tmp_path)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    with EmbeddedStore(tmp_path):
        refused = other_process()
    assert refused.returncode == 3, refused.stderr
    assert refused.stdout.strip() == f"embedded store {tmp_path} is in use by another process"
    assert other_process().returncode == 0


# --- the cursor patch ---------------------------------------------------------------------


def test_the_cursor_patch_is_installed() -> None:
    assert mongomock_ng.collection.Cursor.__next__ is mongomock_patches._cursor_next


def test_skip_limit_and_sort_still_give_the_right_documents() -> None:
    coll = mongomock_ng.MongoClient().db.c
    coll.insert_many([{"_id": i, "x": (i * 7) % 10} for i in range(30)])
    by_x = sorted(range(30), key=lambda i: ((i * 7) % 10, i))

    def ids(cursor: mongomock_ng.collection.Cursor) -> list[int]:
        return [doc["_id"] for doc in cursor]

    assert ids(coll.find({})) == list(range(30))
    assert ids(coll.find({}).skip(25)) == [25, 26, 27, 28, 29]
    assert ids(coll.find({}, skip=5, limit=3)) == [5, 6, 7]
    assert ids(coll.find({}).limit(-2)) == [0, 1]
    assert ids(coll.find({}).limit(0)) == list(range(30))
    assert ids(coll.find({}).skip(40)) == []
    assert ids(coll.find({}).skip(28).limit(5)) == [28, 29]
    assert ids(coll.find({}).sort([("x", 1), ("_id", 1)]).skip(4).limit(6)) == by_x[4:10]
    assert (
        ids(coll.find({"x": {"$gte": 5}}).sort("x", -1).limit(4))
        == [i for i in sorted(range(30), key=lambda i: -((i * 7) % 10)) if (i * 7) % 10 >= 5][:4]
    )
    assert coll.find_one({"x": 3}) == {"_id": 9, "x": 3}

    cursor = coll.find({}).skip(10).limit(2)
    assert ids(cursor) == [10, 11]
    assert ids(cursor) == []  # exhausted
    cursor.rewind()
    assert ids(cursor) == [10, 11]
    assert next(coll.find({}).skip(3)) == {"_id": 3, "x": 1}


def test_cursor_iteration_never_copies_the_remaining_results(monkeypatch) -> None:
    """mongomock-ng's own ``__next__`` slices ``results[skip:]`` for every document."""
    asked: list[bool] = []
    compute = mongomock_ng.collection.Cursor._compute_results

    def recording(self, with_limit_and_skip=False):
        asked.append(with_limit_and_skip)
        return compute(self, with_limit_and_skip)

    monkeypatch.setattr(mongomock_ng.collection.Cursor, "_compute_results", recording)
    coll = mongomock_ng.MongoClient().db.c
    coll.insert_many([{"_id": i} for i in range(1_000)])
    assert [d["_id"] for d in coll.find({}).skip(10).limit(500)] == list(range(10, 510))
    assert len(asked) == 500 and not any(asked)  # the computed list, indexed: no slice
    asked.clear()
    monkeypatch.setattr(mongomock_ng.collection.Cursor, "__next__",
                        mongomock_patches.PATCHES[0].original)
    assert len([d for d in coll.find({}).skip(10).limit(500)]) == 500
    assert asked.count(True) >= 500  # the fork still slices: the patch still saves that


# --- pymongo operations the engine relies on, on this mongomock + pymongo pair ------------


def test_bulk_writes_upserts_and_unique_indexes(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path) as store:
        coll = store.db.Payments
        coll.create_index("key", unique=True)
        result = coll.bulk_write(
            [
                InsertOne({"_id": 1, "key": "a", "n": 1}),
                UpdateOne({"_id": 2}, {"$set": {"key": "b"}, "$inc": {"n": 5}}, upsert=True),
                ReplaceOne({"_id": 3}, {"key": "c", "n": 3}, upsert=True),
                UpdateOne({"_id": 1}, {"$inc": {"n": 1}}),
                ReplaceOne({"_id": 3}, {"key": "c", "n": 4}, upsert=True),
            ],
            ordered=False,
        )
        assert result.inserted_count == 1
        assert result.upserted_count == 2
        # mongomock numbers upserts 0, 1, ... where MongoDB gives the operation's index:
        # rely on the ids only.
        assert sorted(result.upserted_ids.values()) == [2, 3]
        assert result.matched_count == 2 and result.modified_count == 2

        with pytest.raises(BulkWriteError) as info:
            coll.bulk_write(
                [InsertOne({"_id": 4, "key": "a"}), InsertOne({"_id": 5, "key": "e"})],
                ordered=False,
            )
        errors = info.value.details["writeErrors"]
        assert [(e["index"], e["code"]) for e in errors] == [(0, 11000)]
        assert info.value.details["nInserted"] == 1  # unordered: the good insert went through

        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": 6, "key": "b"})
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"_id": 1, "key": "z"})

        sequences = store.db.Sequences
        first = sequences.find_one_and_update(
            {"_id": "check:FS"},
            {"$inc": {"next": 1}, "$setOnInsert": {"kind": "check"}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        second = sequences.find_one_and_update(
            {"_id": "check:FS"},
            {"$inc": {"next": 1}, "$setOnInsert": {"kind": "check"}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert first == {"_id": "check:FS", "next": 1, "kind": "check"}
        assert second == {"_id": "check:FS", "next": 2, "kind": "check"}
        store.checkpoint()

    with EmbeddedStore(tmp_path) as store:
        assert list(store.db.Payments.find({})) == [
            {"_id": 1, "key": "a", "n": 2},
            {"_id": 2, "key": "b", "n": 5},
            {"_id": 3, "key": "c", "n": 4},
            {"_id": 5, "key": "e"},
        ]
        assert store.db.Sequences.find_one({"_id": "check:FS"})["next"] == 2
