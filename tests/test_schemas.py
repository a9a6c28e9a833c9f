"""Tests for mmon.schemas and schemas/*.schema.json against real SageMaker files (format study §1-§4)."""

from __future__ import annotations

import copy
import gzip
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from mmon.errors import EXIT_INPUT, InputError, SchemaError
from mmon.jsonfmt import dumps
from mmon.schemas import KINDS, json_pointer, load_document, load_json, load_schema, validate

REF = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "sagemaker"

# Kind of each real file, by name prefix; Clarify analysis.json files are none of the three kinds.
PREFIX_KIND = {
    "dq-statistics": "statistics",
    "mq-statistics": "statistics",
    "dq-constraints": "constraints",
    "mq-constraints": "constraints",
    "dq-constraint_violations": "constraint_violations",
    "mq-constraint_violations": "constraint_violations",
}
NOT_MONITOR_FILES = {"clarify-bias-analysis.json", "clarify-explainability-analysis.json"}


def _kind_of(name: str) -> str | None:
    # Longest prefix first: "dq-constraint_violations" before "dq-constraints".
    for prefix in sorted(PREFIX_KIND, key=len, reverse=True):
        if name.startswith(prefix):
            return PREFIX_KIND[prefix]
    return None


def _real_files() -> list[Path]:
    return sorted(REF.glob("*.json")) if REF.is_dir() else []


def _load(name: str) -> Any:
    path = REF / name
    if not path.exists():
        pytest.skip(f"reference file {path} not available")
    data = path.read_bytes()
    return load_json(gzip.decompress(data) if name.endswith(".gz") else data, name)


def _error(doc: Any, kind: str, source: str = "src.json") -> str:
    with pytest.raises(SchemaError) as info:
        validate(doc, kind, source)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{source}: ")
    return msg


# --- the schemas themselves -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_schema_files_are_valid_draft_2020_12(kind: str) -> None:
    schema = load_schema(f"{kind}.schema.json")
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        validate({}, "analysis", "x")  # type: ignore[arg-type]


# --- every real file validates ----------------------------------------------------------------


def test_all_real_files_are_classified() -> None:
    files = _real_files()
    if not files:
        pytest.skip(f"reference folder {REF} not available")
    unknown = [p.name for p in files if _kind_of(p.name) is None and p.name not in NOT_MONITOR_FILES]
    assert unknown == []
    assert sum(_kind_of(p.name) is not None for p in files) >= 9


@pytest.mark.parametrize("path", [p for p in _real_files() if _kind_of(p.name)], ids=lambda p: p.name)
def test_real_file_validates(path: Path) -> None:
    kind = _kind_of(path.name)
    assert kind is not None
    doc = load_document(path.read_bytes(), kind, path.name)  # type: ignore[arg-type]
    assert isinstance(doc, dict)


def test_full_real_2024_statistics_validates() -> None:
    validate(_load("data/aai540-statistics.2024-10.json.gz"), "statistics", "aai540")


def test_reserialised_real_files_still_validate() -> None:
    for name, kind in [
        ("dq-statistics.2020-05.from-log.json", "statistics"),
        ("dq-constraints.2024-10.json", "constraints"),
    ]:
        doc = _load(name)
        validate(load_json(dumps(doc), name), kind, name)  # type: ignore[arg-type]


# --- mutated copies fail with the right pointer ------------------------------------------------


@pytest.fixture(scope="module")
def stats2024() -> dict:
    return _load("data/aai540-statistics.2024-10.json.gz")


def test_inferred_type_float(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    doc["features"][3]["inferred_type"] = "Float"
    msg = _error(doc, "statistics", "baseline/statistics.json")
    assert msg.startswith("baseline/statistics.json: 'Float' is not one of")
    assert msg.endswith(" at /features/3/inferred_type")


def test_item_count_string(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    doc["dataset"]["item_count"] = "x"
    assert _error(doc, "statistics") == "src.json: 'x' is not of type 'integer' at /dataset/item_count"


def test_numeric_slot(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    del doc["features"][4:]  # keep the loop below fast
    num = doc["features"][3]["numerical_statistics"]
    for ok in ("NaN", "Infinity", "-Infinity", 1, 1.5):
        num["mean"] = ok
        validate(doc, "statistics", "src.json")
    for bad in ("x", "nan", True, None, [1.0]):
        num["mean"] = bad
        msg = _error(doc, "statistics")
        assert msg.endswith(" at /features/3/numerical_statistics/mean")
        assert "is not a number" in msg


def test_kll_and_categorical_slots(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    doc["features"][3]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][1][7] = "7"
    assert _error(doc, "statistics").endswith(
        " at /features/3/numerical_statistics/distribution/kll/sketch/data/1/7"
    )
    # Sketch levels of numbers skip jsonschema's per-item walk; anything else is still reported.
    for bad, where in ((True, "/1/7"), (None, "/1/7"), ([1.0], "/1/7"), ({"x": 1}, "/1/7"), ("lvl", "/1")):
        doc = copy.deepcopy(stats2024)
        data = doc["features"][3]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"]
        if where == "/1":
            data[1] = bad
        else:
            data[1][7] = bad
        assert _error(doc, "statistics").endswith(" at /features/3/numerical_statistics/distribution/kll/sketch/data" + where)
    doc = copy.deepcopy(stats2024)
    string_feature = next(i for i, f in enumerate(doc["features"]) if f["name"] == "state")
    buckets = doc["features"][string_feature]["string_statistics"]["distribution"]["categorical"]["buckets"]
    buckets[2]["count"] = -1
    msg = _error(doc, "statistics")
    assert msg.endswith(
        f" at /features/{string_feature}/string_statistics/distribution/categorical/buckets/2/count"
    )


def test_missing_required_keys(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    del doc["features"][0]["name"]
    assert _error(doc, "statistics") == "src.json: 'name' is a required property at /features/0"
    assert _error({"features": []}, "statistics") == "src.json: 'dataset' is a required property at /"


def test_root_pointer_and_long_instances_are_shortened() -> None:
    msg = _error(list(range(1000)), "statistics")
    assert msg.endswith("is not of type 'object' at /")
    assert len(msg) < 200


def test_extra_keys_tolerated_everywhere(stats2024: dict) -> None:
    doc = copy.deepcopy(stats2024)
    doc["new_top"] = {"x": 1}
    doc["dataset"]["new"] = "y"
    doc["features"][3]["custom_stat"] = [1, 2]
    doc["features"][3]["numerical_statistics"]["distribution"]["kll"]["new"] = {}
    validate(doc, "statistics", "src.json")


def test_model_quality_statistics() -> None:
    doc = _load("mq-statistics-regression.sdk-test.json")
    doc["regression_metrics"]["r2"]["standard_deviation"] = "NaN"
    validate(doc, "statistics", "mq")
    doc["regression_metrics"]["mae"]["value"] = "high"
    assert _error(doc, "statistics").endswith(" at /regression_metrics/mae/value")
    binary = {
        "version": 0.0,
        "dataset": {"item_count": 201, "evaluation_time": "2021-05-18T01:00:00.000Z"},
        "binary_classification_metrics": {
            "confusion_matrix": {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}},
            "recall": {"value": 0.5714285714285714, "standard_deviation": 0.0417634},
            "precision_best_constant_classifier": {"value": 0.0, "standard_deviation": "NaN"},
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": [0.0, 0.0, 1.0],
                "true_positive_rates": [0.0, 0.03571428571428571, 1.0],
            },
            "precision_recall_curve": {"precisions": [1.0, 1.0], "recalls": [0.0, 1.0]},
            "auc": {"value": 0.9395127993393898, "standard_deviation": 0.010836},
            "au_prc": {"value": 0.9, "standard_deviation": "Infinity"},
        },
    }
    validate(binary, "statistics", "mq")
    binary["binary_classification_metrics"]["auc"] = 0.93
    assert _error(binary, "statistics").endswith(" at /binary_classification_metrics/auc")
    multi = {
        "dataset": {"item_count": 3},
        "multiclass_classification_metrics": {
            "weighted_f1": {"value": "NaN", "standard_deviation": "-Infinity"}
        },
    }
    validate(multi, "statistics", "mq")


def test_constraints_mutations() -> None:
    base = _load("dq-constraints.2024-10.json")
    cases = [
        (("features", 0, "inferred_type"), "Float", "/features/0/inferred_type"),
        (("features", 3, "completeness"), 1.5, "/features/3/completeness"),
        (
            ("features", 3, "num_constraints", "is_non_negative"),
            "true",
            "/features/3/num_constraints/is_non_negative",
        ),
        (("monitoring_config", "evaluate_constraints"), "On", "/monitoring_config/evaluate_constraints"),
        (
            ("monitoring_config", "distribution_constraints", "comparison_method"),
            "Fast",
            "/monitoring_config/distribution_constraints/comparison_method",
        ),
        (
            ("monitoring_config", "distribution_constraints", "categorical_drift_method"),
            "L2",
            "/monitoring_config/distribution_constraints/categorical_drift_method",
        ),
        (
            ("monitoring_config", "datatype_check_threshold"),
            "1.0",
            "/monitoring_config/datatype_check_threshold",
        ),
    ]
    for path, value, pointer in cases:
        doc = copy.deepcopy(base)
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert _error(doc, "constraints").endswith(f" at {pointer}"), path


def test_constraints_old_format_overrides() -> None:
    doc = _load("dq-constraints.old-format.sdk-test.json")
    doc["features"][0]["monitoringConfigOverrides"] = {"evaluate_constraints": "Disabled"}
    validate(doc, "constraints", "old")
    doc["features"][0]["string_constraints"]["monitoring_config_overrides"]["emit_metrics"] = "Off"
    assert _error(doc, "constraints").endswith(
        " at /features/0/string_constraints/monitoring_config_overrides/emit_metrics"
    )
    doc = _load("dq-constraints.old-format.sdk-test.json")
    doc["monitoring_config"]["distribution_constraints"]["enable_comparisons"] = "yes"
    assert _error(doc, "constraints").endswith(
        " at /monitoring_config/distribution_constraints/enable_comparisons"
    )


def test_model_quality_constraints() -> None:
    doc = {
        "version": 0.0,
        "binary_classification_constraints": {
            "recall": {"threshold": 0.5714285714285714, "comparison_operator": "LessThanThreshold"},
            "false_positive_rate": {"threshold": 0.0, "comparison_operator": "GreaterThanThreshold"},
        },
    }
    validate(doc, "constraints", "mq")
    for section in ("multiclass_classification_constraints", "regression_constraints"):
        validate(
            {section: {"m": {"threshold": 1.0, "comparison_operator": "GreaterThanThreshold"}}},
            "constraints",
            "mq",
        )
    bad = copy.deepcopy(doc)
    bad["binary_classification_constraints"]["recall"]["comparison_operator"] = "LessThan"
    assert _error(bad, "constraints").endswith(
        " at /binary_classification_constraints/recall/comparison_operator"
    )
    bad = copy.deepcopy(doc)
    del bad["binary_classification_constraints"]["recall"]["threshold"]
    assert (
        _error(bad, "constraints")
        == "src.json: 'threshold' is a required property at /binary_classification_constraints/recall"
    )


def test_constraints_need_features_or_metric_section() -> None:
    msg = _error({"version": 0.0}, "constraints")
    assert "'features'" in msg and "'regression_constraints'" in msg and msg.endswith(" at /")


def test_violations() -> None:
    validate({"violations": []}, "constraint_violations", "v")
    doc = _load("dq-constraint_violations.old-format.sdk-test.json")
    del doc["violations"][2]["constraint_check_type"]
    assert (
        _error(doc, "constraint_violations")
        == "src.json: 'constraint_check_type' is a required property at /violations/2"
    )
    doc = _load("mq-constraint_violations.binary.2021-05.reconstructed.json")
    doc["violations"][0]["constraint_check_type"] = "LessThan"
    assert _error(doc, "constraint_violations").endswith(" at /violations/0/constraint_check_type")
    doc = _load("mq-constraint_violations.binary.2021-05.reconstructed.json")
    del doc["violations"][4]["metric_name"]
    msg = _error(doc, "constraint_violations")
    assert "'feature_name'" in msg and msg.endswith(" at /violations/4")
    assert _error({}, "constraint_violations") == "src.json: 'violations' is a required property at /"


def test_violations_extra_keys_and_clarify_entries() -> None:
    doc = {
        "version": "1.0",
        "violations": [
            {
                "constraint_check_type": "bias_drift_check",
                "description": "Metric value Infinity doesn't meet the baseline constraint requirement 2.916666666666667",
                "facet": "Sex",
                "facet_value": "0",
                "metric_name": "TE",
            },
            {
                "label": "label0",
                "metric_name": "shap",
                "constraint_check_type": "feature_attribution_drift_check",
                "description": "Feature attribution drift 0.7639720923277322 exceeds threshold 0.9",
            },
            {
                "feature_name": "a",
                "constraint_check_type": "baseline_drift_check",
                "description": "d",
                "extra": 1,
            },
        ],
    }
    validate(doc, "constraint_violations", "v")


# --- helpers ----------------------------------------------------------------------------------


def test_json_pointer_escaping() -> None:
    assert json_pointer([]) == "/"
    assert json_pointer(["a/b", "c~d", 3]) == "/a~1b/c~0d/3"
    msg = _error(
        {"regression_constraints": {"m/a~e": {"threshold": "x", "comparison_operator": "LessThanThreshold"}}},
        "constraints",
    )
    assert msg.endswith(" at /regression_constraints/m~1a~0e/threshold")


def test_load_json_errors() -> None:
    with pytest.raises(InputError) as info:
        load_json('{\n  "a": 1,\n}', "s3://bucket/statistics.json")
    assert str(info.value) == (
        "s3://bucket/statistics.json: not valid JSON: Expecting property name enclosed in double quotes (line 3, column 1)"
    )
    with pytest.raises(InputError) as info:
        load_json("", "empty.json")
    assert str(info.value).startswith("empty.json: not valid JSON: Expecting value (line 1, column 1)")
    with pytest.raises(InputError):
        load_json(b"\xff\xfe\xfa", "bin.json")


def test_schema_error_is_input_error_with_exit_code_2() -> None:
    with pytest.raises(InputError) as info:
        validate({"violations": "none"}, "constraint_violations", "v.json")
    assert isinstance(info.value, SchemaError)
    assert info.value.exit_code == EXIT_INPUT == 2
    assert str(info.value) == "v.json: 'none' is not of type 'array' at /violations"


# --- the compiled check gives jsonschema's verdict ----------------------------------------------

_MUTANTS: list[Any] = [
    None, True, False, 0, -1, 0.5, 1.5, 3.0, 2**64, float("nan"), float("inf"), -float("inf"), "NaN", "Infinity",
    "-Infinity", "nan", "x", "Fractional", "Enabled", "Robust", "baseline_drift_check", [], [1.0], [[1.0, "NaN"]],
    {}, {"name": "a"}, {"unknown": 1},
]  # fmt: skip


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*path, i))
    return out


def _short(doc: Any) -> Any:
    """``doc`` with every list cut to 2 items (a KLL sketch's thousands make jsonschema slow)."""
    if isinstance(doc, dict):
        return {k: _short(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_short(v) for v in doc[:2]]
    return doc


def _mutants(doc: Any) -> Any:
    """Every value of ``doc`` replaced by each of _MUTANTS, every key deleted, an unknown key added
    to every object: yields after each change (made in place and undone)."""
    for path in _paths(doc)[1:]:
        parent = doc
        for p in path[:-1]:
            parent = parent[p]
        key, old = path[-1], parent[path[-1]]
        for value in _MUTANTS:
            parent[key] = value
            yield doc
        parent[key] = old
        if isinstance(parent, dict):
            del parent[key]
            yield doc
            parent[key] = old
        if isinstance(old, dict):
            old["zz"] = 1
            yield doc
            del old["zz"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("dq-statistics.2024-10.trimmed.json", "statistics"),
        ("dq-statistics.2020-05.from-log.json", "statistics"),
        ("mq-statistics-regression.sdk-test.json", "statistics"),
        ("dq-constraints.2024-10.json", "constraints"),
        ("dq-constraints.old-format.sdk-test.json", "constraints"),
        ("dq-constraint_violations.old-format.sdk-test.json", "constraint_violations"),
        ("mq-constraint_violations.binary.2021-05.reconstructed.json", "constraint_violations"),
    ],
)
def test_compiled_check_agrees_with_jsonschema(name: str, kind: str) -> None:
    """validate() trusts compile_check's verdict on a valid document: it must be jsonschema's on
    every mutant (a missing key, a wrong type, an unknown key, NaN, a bound crossed, …)."""
    from mmon.schemas import compile_check

    schema = load_schema(f"{kind}.schema.json")
    check, reference = compile_check(schema), Draft202012Validator(schema)
    doc = _short(_load(name))
    assert check(doc) and reference.is_valid(doc)
    verdicts = []
    for mutant in _mutants(doc):
        expected = reference.is_valid(mutant)
        assert check(mutant) == expected, (name, copy.deepcopy(mutant))
        verdicts.append(expected)
    assert 0 < sum(verdicts) < len(verdicts)  # both verdicts were exercised


def test_compile_check_refuses_unknown_keywords() -> None:
    from mmon.schemas import UnsupportedSchema, compile_check

    for schema in ({"minItems": 1}, {"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}, {"type": "decimal"}):
        with pytest.raises(UnsupportedSchema):
            compile_check(schema)
