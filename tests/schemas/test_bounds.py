"""Bounds on what one input may cost: nesting measured without recursion, echoes cut short, dead
letters that fit the log whatever they carry."""

from datetime import UTC, datetime

import pytest

from schemas import (
    DEAD_LETTER_RAW_BYTES,
    FieldError,
    dead_letter_record,
    echo,
    errors_json,
    too_deep,
    too_deep_in_text,
)


def test_echo_cuts_long_text_and_says_how_much() -> None:
    assert echo("short") == "short"
    assert echo("x" * 250) == "x" * 200 + "…(+50 chars)"


def nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("levels", [65, 5000])  # 5000: far past the interpreter's recursion limit
def test_too_deep_names_the_first_level_over_the_limit(levels: int) -> None:
    assert too_deep(nested(64), 64) is None
    assert too_deep(nested(levels), 64) == ".".join(["a"] * 64)
    assert too_deep({"x": [nested(levels)]}, 64, level=2, prefix="data") == "data.x[0]." + ".".join(
        ["a"] * 61
    )


def test_too_deep_in_text_follows_keys_and_indexes() -> None:
    text = '{"k": "{[", "list": [0, {"x\\"y": ' + "[" * 2000 + "]" * 2000 + "}]}"
    assert too_deep_in_text(text, 5) == 'list[1].x"y[0][0]'


def test_errors_json_lists_a_few_bounded_errors_and_counts_the_rest() -> None:
    errors = [FieldError("k" * 1000, "m" * 5000, "rule")] * 25
    shown, not_listed = errors_json(errors)
    assert (len(shown), not_listed) == (20, 5)
    assert len(shown[0]["path"]) < 450 and len(shown[0]["message"]) < 850


def test_a_dead_letter_keeps_a_prefix_of_a_huge_input_with_its_size() -> None:
    raw = "é" * (DEAD_LETTER_RAW_BYTES)  # twice the limit in bytes
    at = datetime(2026, 1, 1, tzinfo=UTC)
    letter = dead_letter_record(
        origin="test", errors=[FieldError("$", "too big", "size")] * 300, raw=raw, failed_at=at
    )
    assert letter["raw_truncated"] is True and letter["raw_bytes"] == 2 * DEAD_LETTER_RAW_BYTES
    assert letter["raw"] == "é" * (DEAD_LETTER_RAW_BYTES // 2)
    assert (len(letter["errors"]), letter["errors_not_listed"]) == (100, 200)
    small = dead_letter_record(origin="test", errors=[], raw="{}", failed_at=at)
    assert (small["raw"], small["raw_bytes"], small["raw_truncated"]) == ("{}", 2, False)
