"""The claim fast path builds exactly what ``Claim.model_validate`` builds, or steps aside."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import mongomock_ng
import pytest
from bson.decimal128 import Decimal128
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from PaymentProcess.data.models.claim import Claim, ServiceLine, fast_claim
from PaymentProcess.synthetic.generator import SyntheticOptions, generate
from tests.conftest import GOLDEN_STORE, read_store

GOLDEN_CLAIMS = read_store(GOLDEN_STORE)["ClaimWSCore"]


def synthetic_claims() -> list[dict[str, Any]]:
    db = mongomock_ng.MongoClient().payments
    generate(db, SyntheticOptions(claims=300, payees=10, seed=11, bad_rate=0.05))
    return list(db.ClaimWSCore.find())


SYNTHETIC_CLAIMS = synthetic_claims()


def validated(document: dict[str, Any]) -> Claim | None:
    try:
        return Claim.model_validate(document)
    except ValidationError:
        return None


def assert_same_as_the_model(document: dict[str, Any]) -> Claim | None:
    fast = fast_claim(document)
    if fast is not None:
        model = validated(document)
        assert model is not None, "the fast path accepted what the model rejects"
        assert fast == model
        assert fast.model_dump() == model.model_dump()  # same values, same field order
        assert all(type(line) is ServiceLine for line in fast.service_lines)
    return fast


@pytest.mark.parametrize("document", GOLDEN_CLAIMS, ids=lambda d: d["_id"])
def test_every_valid_golden_claim_takes_the_fast_path(document: dict[str, Any]) -> None:
    assert (assert_same_as_the_model(document) is not None) == (validated(document) is not None)


def test_every_valid_synthetic_claim_takes_the_fast_path() -> None:
    taken = sum(assert_same_as_the_model(document) is not None for document in SYNTHETIC_CLAIMS)
    valid = sum(validated(document) is not None for document in SYNTHETIC_CLAIMS)
    assert taken == valid > 250


def test_the_fast_path_covers_every_field_of_the_models() -> None:
    claim = fast_claim(GOLDEN_CLAIMS[0])
    assert claim is not None
    assert list(claim.__dict__) == list(Claim.model_fields)
    assert list(claim.service_lines[0].__dict__) == list(ServiceLine.model_fields)


# Values of every shape a field can hold: the plain store types, and the others.
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["", " ", "1", "7", "8", "APPROVED", "DENIED",
                                           "PROFESSIONAL", "DENTAL", "1234567893", "12.345",
                                           "a\x00b", "x" * 201, "1e3", "-0.00"]),
    st.builds(Decimal128, st.sampled_from(["12.34", "-1.00", "0", "1E+13", "NaN", "Infinity",
                                           "0.001", "10.5", "-0E-10", "99999999999.99"])),
    st.builds(Decimal, st.sampled_from(["1.10", "NaN", "2.5"])),
    st.just(datetime(2026, 1, 5, 10, 30)), st.just(date(2026, 1, 5)),
    st.just([]), st.just({}), st.just({"name": "N", "address": {"city": 3}}),
    st.just({"name": "N", "address": {"line1": "1 Main St", "zip": "12345"}}),
    st.just(("tuple",)), st.just([{"allowed": "1.00"}]),
)
FIELDS = sorted({*Claim.model_fields, "_id", "id"} - {"service_lines"})
LINE_FIELDS = sorted(ServiceLine.model_fields)


@st.composite
def mutated_claims(draw: st.DrawFn) -> dict[str, Any]:
    document = copy.deepcopy(draw(st.sampled_from(GOLDEN_CLAIMS + SYNTHETIC_CLAIMS[:40])))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["claim", "line", "lines"]))
        lines = document.get("service_lines")
        if where == "line" and isinstance(lines, list) and lines and isinstance(lines[0], dict):
            line = lines[draw(st.integers(0, len(lines) - 1))]
            name = draw(st.sampled_from(LINE_FIELDS))
            if draw(st.booleans()):
                line.pop(name, None)
            else:
                line[name] = draw(ODD_VALUES)
        elif where == "lines":
            document["service_lines"] = draw(ODD_VALUES)
        else:
            name = draw(st.sampled_from(FIELDS))
            if draw(st.booleans()):
                document.pop(name, None)
            else:
                document[name] = draw(ODD_VALUES)
    return document


@settings(max_examples=600, deadline=None)
@given(mutated_claims())
def test_a_mutated_claim_is_what_the_model_makes_of_it(document: dict[str, Any]) -> None:
    assert_same_as_the_model(document)


def test_valid_shapes_the_fast_path_does_not_take_are_left_to_the_model() -> None:
    document = copy.deepcopy(GOLDEN_CLAIMS[0])
    document["NPI"] = int(document["NPI"])  # an int identifier is read as its digits
    document["service_lines"][0]["units"] = "2"  # text units are read as a number
    assert fast_claim(document) is None
    model = validated(document)
    assert model is not None
    assert (model.NPI, model.service_lines[0].units) == (GOLDEN_CLAIMS[0]["NPI"], 2)


def test_a_tuple_of_lines_is_left_to_the_model_which_rejects_it() -> None:
    document = copy.deepcopy(GOLDEN_CLAIMS[0])
    document["service_lines"] = tuple(document["service_lines"])
    assert fast_claim(document) is None
    assert validated(document) is None
