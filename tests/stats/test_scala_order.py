"""Tests for mmon.stats.scala_order: SageMaker's categorical bucket / domains order (§1.3)."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from mmon.jsonfmt import loads
from mmon.stats.scala_order import java_string_hash, scala_hashmap_order, scala_improve

REF = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "sagemaker"


def _load(name: str):
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference file {path} not available")
    data = path.read_bytes()
    return loads((gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8"))


def _signed(h: int) -> int:
    return h - (1 << 32) if h & 0x80000000 else h


@pytest.mark.parametrize(
    ("s", "java_hash"),
    [
        ("", 0),
        ("a", 97),
        ("hello", 99162322),
        ("polygenelubricants", -(2**31)),  # famous Integer.MIN_VALUE hashCode
        ("Aa", 2112),  # the classic collision pair
        ("BB", 2112),
        ("\U0001f600", 0xD83D * 31 + 0xDE00),  # hashed as two UTF-16 code units
    ],
)
def test_java_string_hash(s: str, java_hash: int) -> None:
    assert _signed(java_string_hash(s)) == java_hash


def test_improve_by_hand() -> None:
    # improve(0): h = 0 + ~0 = 0xFFFFFFFF; h ^= h>>>14 -> 0xFFFC0000; h += h<<4 -> 0xFFBC0000;
    # h ^ h>>>10 -> 0xFF83EF00.
    assert scala_improve(0) == 0xFF83EF00
    # Inputs are taken as 32-bit patterns: a negative Java int equals its unsigned form.
    assert scala_improve(-1) == scala_improve(0xFFFFFFFF)


def _bucket_values(stats: dict, feature: str) -> list[str]:
    feat = next(f for f in stats["features"] if f["name"] == feature)
    buckets = feat["string_statistics"]["distribution"]["categorical"]["buckets"]
    return [b["value"] for b in buckets]


@pytest.mark.parametrize(("feature", "n"), [("state", 54), ("county", 83)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_2024_bucket_order(feature: str, n: int, seed: int) -> None:
    expected = _bucket_values(_load("data/aai540-statistics.2024-10.json.gz"), feature)
    assert len(expected) == n
    shuffled = expected[:]
    random.Random(seed).shuffle(shuffled)
    before = shuffled[:]
    assert scala_hashmap_order(shuffled) == expected
    assert shuffled == before  # input not modified


def test_real_2024_constraints_domains_order() -> None:
    constraints = _load("dq-constraints.2024-10.json")
    checked = 0
    for feat in constraints["features"]:
        domains = feat.get("string_constraints", {}).get("domains")
        if not domains or len(domains) <= 4:
            continue
        shuffled = sorted(domains)
        assert scala_hashmap_order(shuffled) == domains, feat["name"]
        checked += 1
    assert checked == 2  # state and county


def test_domains_equal_bucket_order() -> None:
    stats = _load("data/aai540-statistics.2024-10.json.gz")
    constraints = _load("dq-constraints.2024-10.json")
    for feat in constraints["features"]:
        domains = feat.get("string_constraints", {}).get("domains")
        if domains:
            assert _bucket_values(stats, feat["name"]) == domains


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4])
def test_small_maps_keep_insertion_order(n: int) -> None:
    values = ["zeta", "alpha", "Mike", "delta"][:n]
    assert scala_hashmap_order(values) == values


def test_five_or_more_use_trie_order_independent_of_input_order() -> None:
    values = ["zeta", "alpha", "Mike", "delta", "echo", "foxtrot"]
    a = scala_hashmap_order(values)
    b = scala_hashmap_order(list(reversed(values)))
    assert a == b and sorted(a) == sorted(values)


def test_full_hash_collisions_keep_insertion_order() -> None:
    # "Aa" and "BB" share their hash: Scala keeps them in a HashMapCollision1 (a ListMap,
    # insertion order), so their relative order follows the input.
    others = ["zeta", "alpha", "Mike", "delta"]
    a = scala_hashmap_order(["Aa", "BB", *others])
    b = scala_hashmap_order(["BB", "Aa", *others])
    assert a.index("Aa") < a.index("BB")
    assert b.index("BB") < b.index("Aa")
    assert [v for v in a if v in others] == [v for v in b if v in others]
