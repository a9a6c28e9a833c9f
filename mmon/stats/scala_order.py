"""Order of categorical buckets and ``string_constraints.domains``: Scala 2.12 ``HashMap`` order.

SageMaker's analyzer (Scala 2.12 / Spark 3.3) collects the category counts of a String column
into an immutable ``Map`` and writes the buckets in its iteration order; the suggested
``domains`` list is the same list in the same order (format study
``shared/reference/sagemaker-formats.md`` §1.3 last bullet and §2.3, verified there on the 54
states and 83 counties of the REAL-2024 files).

Scala 2.12 ``scala.collection.immutable.HashMap`` (``src/library/scala/collection/immutable/
HashMap.scala`` on the 2.12.x branch, checked against the source):

- ``computeHash(key) = improve(key.##)``; for a ``String``, ``##`` is Java ``String.hashCode``
  (``s[0]*31^(n-1) + … + s[n-1]`` over UTF-16 code units, 32-bit wrap-around);
- ``improve(hcode)``: ``h = hcode + ~(hcode << 9); h ^= h >>> 14; h += h << 4; h ^ (h >>> 10)``;
- the hash trie indexes level ``L`` (0, 5, 10, …, 30) by ``(hash >>> L) & 0x1f`` and keeps the
  children of a ``HashTrieMap`` in increasing index order (bitmap + ``makeHashTrieMap``), so
  iteration order = ascending by the 5-bit groups of the improved hash, least significant group
  first;
- keys with the same full 32-bit hash share a ``HashMapCollision1`` (a ``ListMap``), iterated in
  insertion order — kept here by a stable sort over the insertion-ordered input;
- maps with at most 4 entries are ``Map1`` … ``Map4``, which iterate in insertion order.
"""

from __future__ import annotations

__all__ = ["java_string_hash", "scala_improve", "scala_hashmap_order"]

_MASK = 0xFFFFFFFF


def java_string_hash(s: str) -> int:
    """Java ``String.hashCode()`` of ``s`` as an unsigned 32-bit value (UTF-16 code units)."""
    h = 0
    data = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & _MASK
    return h


def scala_improve(hcode: int) -> int:
    """Scala 2.12 ``HashMap.improve`` on a 32-bit hash, returned unsigned (bit pattern kept)."""
    h = hcode & _MASK
    h = (h + (~(h << 9) & _MASK)) & _MASK
    h ^= h >> 14  # >>> on the unsigned bit pattern
    h = (h + (h << 4)) & _MASK
    return h ^ (h >> 10)


def _trie_key(value: str) -> tuple[int, ...]:
    h = scala_improve(java_string_hash(value))
    # Level indices 0, 5, …, 30: the trie compares these in turn.
    return tuple((h >> level) & 0x1F for level in range(0, 32, 5))


def scala_hashmap_order(values: list[str]) -> list[str]:
    """Iteration order of a Scala 2.12 immutable ``Map`` built from ``values``.

    ``values`` must be distinct and in insertion (first-seen) order. Up to 4 values are returned
    unchanged (``Map1``..``Map4`` keep insertion order); more are ordered as a ``HashMap`` trie
    iterates (see the module docstring).
    """
    if len(values) <= 4:
        return list(values)
    return sorted(values, key=_trie_key)
