"""CRD structural schema validation, defaulting, pruning and the 422 body.

Covers: kube-openapi checks (types incl. integer vs number and int-or-string, nullable,
required, enum, pattern, minimum/maximum (+exclusive), minLength/maxLength, minItems/maxItems,
min/maxProperties, formats, additionalProperties), x-kubernetes-list-type set/map duplicates,
x-kubernetes-validations CEL rules (message, messageExpression, fieldPath, reason, transition
rules with oldSelf), defaulting, pruning with preserve-unknown-fields and embedded resources,
and the apierrors.NewInvalid Status body.
"""

import pytest

from finplane_emulator.schema import (
    apply_defaults,
    compile_schema,
    invalid_status,
    prune,
    schema_errors,
    validate,
)


def obj_schema(props, **extra):
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props, **extra}}}


def errors_of(props, spec, *, old=None, **extra):
    return [str(e) for e in validate(obj_schema(props, **extra), {"spec": spec}, old=old)]


def test_minimum_error_reads_like_the_real_server():
    """Mirrors kube-openapi's "should be greater than or equal to" for minimum: 0."""
    assert errors_of({"replicas": {"type": "integer", "minimum": 0}}, {"replicas": -1}) == [
        "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"]


def test_exclusive_bounds_and_maximum_are_enforced():
    props = {"a": {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
             "b": {"type": "number", "maximum": 2.5}, "c": {"type": "integer", "maximum": 5, "exclusiveMaximum": True}}
    assert errors_of(props, {"a": 1, "b": 3, "c": 5}) == [
        "spec.a: Invalid value: 1: spec.a in body should be greater than 1",
        "spec.b: Invalid value: 3: spec.b in body should be less than or equal to 2.5",
        "spec.c: Invalid value: 5: spec.c in body should be less than 5",
    ]


def test_wrong_types_report_the_actual_type_name():
    """Mirrors InvalidTypeCode -> field.TypeInvalid: `Invalid value: "string": ... must be of type integer: "string"`."""
    errs = validate(obj_schema({"replicas": {"type": "integer"}}), {"spec": {"replicas": "3"}})
    assert [(e.type, str(e)) for e in errs] == [(
        "FieldValueTypeInvalid",
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"')]


def test_a_float_is_not_an_integer_but_an_integer_is_a_number():
    props = {"i": {"type": "integer"}, "n": {"type": "number"}}
    assert errors_of(props, {"i": 1.5, "n": 2}) == [
        'spec.i: Invalid value: "number": spec.i in body must be of type integer: "number"']


def test_int_or_string_accepts_both_and_refuses_others():
    props = {"port": {"x-kubernetes-int-or-string": True}}
    assert errors_of(props, {"port": 80}) == errors_of(props, {"port": "http"}) == []
    assert errors_of(props, {"port": True})


def test_null_is_refused_unless_nullable():
    props = {"a": {"type": "string"}, "b": {"type": "string", "nullable": True}}
    assert errors_of(props, {"a": None, "b": None}) == [
        'spec.a: Invalid value: "null": spec.a in body must be of type string: "null"']


def test_missing_required_fields_are_reported():
    """Mirrors RequiredFailCode -> field.Required: "spec.image: Required value"."""
    errs = validate(obj_schema({"image": {"type": "string"}}, required=["image"]), {"spec": {}})
    assert [(e.type, e.field, str(e)) for e in errs] == [
        ("FieldValueRequired", "spec.image", "spec.image: Required value")]


def test_enum_lists_the_supported_values():
    """Mirrors EnumFailCode -> field.NotSupported."""
    errs = validate(obj_schema({"tier": {"type": "string", "enum": ["gold", "silver"]}}), {"spec": {"tier": "bronze"}})
    assert errs[0].type == "FieldValueNotSupported"
    assert str(errs[0]) == 'spec.tier: Unsupported value: "bronze": supported values: "gold", "silver"'


def test_string_length_pattern_and_format_checks():
    props = {"name": {"type": "string", "minLength": 3, "maxLength": 5, "pattern": "^[a-z]+$"},
             "at": {"type": "string", "format": "date-time"}}
    errs = validate(obj_schema(props), {"spec": {"name": "ABCDEFG", "at": "yesterday"}})
    assert [(e.type, str(e)) for e in errs] == [
        ("FieldValueTooLong", "spec.name: Too long: may not be more than 5 bytes"),
        ("FieldValueInvalid", "spec.name: Invalid value: \"ABCDEFG\": spec.name in body should match '^[a-z]+$'"),
        ("FieldValueTypeInvalid", 'spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"'),
    ]
    assert errors_of(props, {"name": "ab"}) == ['spec.name: Invalid value: "ab": spec.name in body should be at least 3 chars long']
    assert errors_of(props, {"at": "2024-01-02T03:04:05Z"}) == []


def test_item_and_property_counts_are_bounded():
    props = {"tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2},
             "cfg": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1, "minProperties": 1}}
    assert errors_of(props, {"tags": ["a", "b", "c"], "cfg": {"a": "1", "b": "2"}}) == [
        "spec.tags: Too many: 3: must have at most 2 items",
        "spec.cfg: Too many: 2: must have at most 1 items",
    ]
    assert errors_of(props, {"tags": [], "cfg": {}}) == [
        "spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items",
        "spec.cfg: Invalid value: 0: spec.cfg in body should have at least 1 properties",
    ]


def test_nested_list_items_are_named_with_their_index():
    props = {"routes": {"type": "array", "items": {"type": "object", "required": ["path"],
                                                    "properties": {"path": {"type": "string", "pattern": "^/"}}}}}
    assert errors_of(props, {"routes": [{"path": "/ok"}, {"path": "bad"}, {}]}) == [
        "spec.routes[1].path: Invalid value: \"bad\": spec.routes[1].path in body should match '^/'",
        "spec.routes[2].path: Required value",
    ]


def test_set_and_map_lists_refuse_duplicates():
    """Mirrors listtype validation: field.Duplicate at the repeated index."""
    props = {"hosts": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
             "routes": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["path"],
                        "items": {"type": "object", "properties": {"path": {"type": "string"}, "w": {"type": "integer"}}}}}
    errs = validate(obj_schema(props), {"spec": {"hosts": ["a", "b", "a"],
                                                 "routes": [{"path": "/a", "w": 1}, {"path": "/a", "w": 2}]}})
    assert [(e.type, e.field) for e in errs] == [("FieldValueDuplicate", "spec.hosts[2]"),
                                                  ("FieldValueDuplicate", "spec.routes[1]")]
    assert str(errs[0]) == 'spec.hosts[2]: Duplicate value: "a"'


def test_cel_rule_failure_uses_message_and_field_path():
    """Mirrors x-kubernetes-validations: `Invalid value: "object": <message>` at the rule's fieldPath."""
    spec_schema = {"minReplicas": {"type": "integer"}, "maxReplicas": {"type": "integer"}}
    rules = [{"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must not exceed maxReplicas",
              "fieldPath": ".minReplicas"}]
    assert errors_of(spec_schema, {"minReplicas": 5, "maxReplicas": 2}, **{"x-kubernetes-validations": rules}) == [
        'spec.minReplicas: Invalid value: "object": minReplicas must not exceed maxReplicas']
    assert errors_of(spec_schema, {"minReplicas": 1, "maxReplicas": 2}, **{"x-kubernetes-validations": rules}) == []


def test_cel_rule_without_message_reports_the_rule_and_may_set_the_reason():
    props = {"name": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self.startsWith('fp-')"},
        {"rule": "size(self) < 4", "messageExpression": "'name ' + self + ' is too long'", "reason": "FieldValueForbidden"},
    ]}}
    errs = validate(obj_schema(props), {"spec": {"name": "payments"}})
    assert [(e.type, str(e)) for e in errs] == [
        ("FieldValueInvalid", "spec.name: Invalid value: \"string\": failed rule: self.startsWith('fp-')"),
        ("FieldValueForbidden", "spec.name: Forbidden: name payments is too long"),
    ]


def test_kubernetes_cel_string_and_list_functions_work():
    props = {"tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-validations": [
        {"rule": "self.isSorted() && self.all(t, t.lowerAscii() == t) && self.join(',').size() < 20"}]}}
    assert errors_of(props, {"tags": ["a", "b"]}) == []
    assert len(errors_of(props, {"tags": ["b", "A"]})) == 1


def test_transition_rules_run_only_on_update():
    """Mirrors rules with oldSelf: skipped on create, evaluated against the old value on update."""
    props = {"domain": {"type": "string", "x-kubernetes-validations": [
        {"rule": "self == oldSelf", "message": "domain is immutable"}]}}
    assert errors_of(props, {"domain": "payments"}) == []
    assert errors_of(props, {"domain": "payments"}, old={"spec": {"domain": "payments"}}) == []
    assert errors_of(props, {"domain": "cards"}, old={"spec": {"domain": "payments"}}) == [
        'spec.domain: Invalid value: "string": domain is immutable']


def test_cel_runtime_errors_are_reported_not_raised():
    props = {"a": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                   "x-kubernetes-validations": [{"rule": "self.missing > 1"}]}}
    (err,) = errors_of(props, {"a": {}})
    assert err.startswith('spec.a: Invalid value: "object": ') and "evaluating rule: self.missing > 1" in err


def test_uncompilable_cel_rules_are_reported_as_schema_problems():
    """Mirrors the CRD create refusal: "...x-kubernetes-validations[0].rule: Invalid value: ...: compilation failed"."""
    schema = obj_schema({}, **{"x-kubernetes-validations": [{"rule": "self.x >"}]})
    (problem,) = schema_errors(schema)
    assert problem.field.endswith("properties[spec].x-kubernetes-validations[0].rule")
    assert "compilation failed" in problem.message
    assert validate(schema, {"spec": {}}) == []


def test_defaults_fill_missing_fields_recursively_and_replace_non_nullable_nulls():
    """Mirrors structural defaulting: defaults deep-copied, applied inside defaulted objects, nulls pruned."""
    schema = obj_schema({
        "replicas": {"type": "integer", "default": 1},
        "probe": {"type": "object", "default": {}, "properties": {"path": {"type": "string", "default": "/healthz"}}},
        "note": {"type": "string"},
        "routes": {"type": "array", "items": {"type": "object", "properties": {"weight": {"type": "integer", "default": 100}}}},
    })
    out = apply_defaults(schema, {"spec": {"replicas": None, "note": None, "routes": [{}, {"weight": 5}]}})
    assert out == {"spec": {"replicas": 1, "probe": {"path": "/healthz"}, "routes": [{"weight": 100}, {"weight": 5}]}}


def test_pruning_drops_unknown_fields_and_reports_their_paths():
    """Mirrors structural pruning (and the "unknown field" warnings)."""
    schema = obj_schema({
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "cfg": {"type": "object", "additionalProperties": {"type": "string"}},
        "routes": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}}}},
        "tmpl": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object"}}},
    })
    removed = []
    body = {"apiVersion": "finplane.io/v1alpha1", "kind": "X", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"free": {"any": {"thing": 1}}, "cfg": {"k": "v"}, "routes": [{"path": "/", "junk": 1}],
                     "tmpl": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}, "extra": 1},
                     "typo": 2},
            "status": {"x": 1}}
    out = prune(schema, body, removed=removed)
    assert out == {"apiVersion": "finplane.io/v1alpha1", "kind": "X", "metadata": {"name": "x", "labels": {"a": "b"}},
                   "spec": {"free": {"any": {"thing": 1}}, "cfg": {"k": "v"}, "routes": [{"path": "/"}],
                            "tmpl": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}}}}
    assert sorted(removed) == ["spec.routes[0].junk", "spec.tmpl.extra", "spec.typo", "status"]


def test_invalid_status_matches_the_real_422_body():
    """Mirrors apierrors.NewInvalid for a custom resource."""
    errs = validate(obj_schema({"replicas": {"type": "integer", "minimum": 0}}), {"spec": {"replicas": -1}})
    assert invalid_status(kind="BusinessCapability", group="finplane.io", name="pay", errors=errs) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'BusinessCapability.finplane.io "pay" is invalid: spec.replicas: Invalid value: -1: '
                   "spec.replicas in body should be greater than or equal to 0",
        "reason": "Invalid",
        "details": {"name": "pay", "group": "finplane.io", "kind": "BusinessCapability", "causes": [{
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: spec.replicas in body should be greater than or equal to 0",
            "field": "spec.replicas"}]},
        "code": 422,
    }


def test_several_errors_are_joined_in_brackets():
    """Mirrors utilerrors.Aggregate: "[a, b]" when more than one error."""
    errs = validate(obj_schema({"a": {"type": "string"}, "b": {"type": "string"}}, required=["a", "b"]), {"spec": {}})
    body = invalid_status(kind="Channel", group="finplane.io", name="web", errors=errs)
    assert body["message"] == 'Channel.finplane.io "web" is invalid: [spec.a: Required value, spec.b: Required value]'
    assert len(body["details"]["causes"]) == 2


@pytest.mark.parametrize("value", [1, 1.0, 100000.0])
def test_bounds_print_like_go(value):
    errs = validate(obj_schema({"x": {"type": "number", "maximum": value}}), {"spec": {"x": 10**6}})
    assert str(errs[0]).endswith(f"should be less than or equal to {int(value)}")


def test_compiled_schemas_are_reused_for_the_same_schema_object():
    schema = obj_schema({"a": {"type": "string", "pattern": "^x"}})
    assert compile_schema(schema) is compile_schema(schema)
