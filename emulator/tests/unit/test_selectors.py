"""Label and field selectors of list/watch requests.

Covers: the label selector grammar of k8s.io/apimachinery/pkg/labels (=, ==, !=, in, notin,
exists, !exists, gt/lt), its error messages for bad syntax, metav1.LabelSelector dicts
(matchLabels + matchExpressions), and field selectors with the real "field label not
supported" refusal.
"""

import pytest

from finplane_emulator.selectors import (
    label_selector_from_dict,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "front", "finplane.io/team": "payments"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("app!=web", False),
        ("missing!=x", True),  # real: a missing key satisfies !=
        ("tier in (front,back)", True),
        ("tier in (back)", False),
        ("tier notin (back)", True),
        ("missing notin (x)", True),
        ("tier notin (front)", False),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier in (front),!legacy", True),
        ("app=web,tier=back", False),
        ("finplane.io/team=payments", True),
        ("  app = web , tier  in ( front , back ) ", True),
        ("app in (in, notin, web)", True),  # keywords are plain values inside parentheses
        ("missing in ()", False),
        ("missing notin ()", True),
    ],
)
def test_label_selector_matches_like_the_real_apiserver(text, expected):
    """Mirrors labels.Parse(...).Matches(labels.Set) in k8s.io/apimachinery."""
    assert parse_label_selector(text).matches(LABELS) is expected


def test_gt_and_lt_compare_label_values_as_integers():
    """Mirrors the Gt/Lt operators of labels.Requirement (integers only; non-numbers never match)."""
    sel = parse_label_selector("rank>3")
    assert sel.matches({"rank": "10"})
    assert not sel.matches({"rank": "2"})
    assert not sel.matches({"rank": "high"})
    assert parse_label_selector("rank<3").matches({"rank": "2"})


def test_an_object_without_labels_matches_only_negative_requirements():
    assert parse_label_selector("!app").matches(None)
    assert parse_label_selector("app!=web").matches({})
    assert not parse_label_selector("app").matches({})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app in web", "unable to parse requirement: found 'web' expected: '('"),
        ("app web", "unable to parse requirement: found 'web', expected: '=', '!=', '==', 'in', notin'"),
        ("app=web x", "found 'x', expected: ',' or 'end of string'"),
        ("app in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("app,", "found '', expected: identifier after ','"),
        ("=web", "found '=', expected: !, identifier, or 'end of string'"),
        ("!app=web", "found '=', expected: ',' or 'end of string'"),
    ],
)
def test_bad_label_selector_syntax_is_refused_with_the_apimachinery_message(text, message):
    """Mirrors the parser errors of k8s.io/apimachinery/pkg/labels/selector.go (the 400 text)."""
    with pytest.raises(ValueError) as err:
        parse_label_selector(text)
    assert str(err.value) == message


def test_invalid_label_keys_and_values_are_refused():
    """Mirrors validateLabelKey / validateLabelValue in labels.NewRequirement."""
    with pytest.raises(ValueError, match="invalid label key"):
        parse_label_selector("-bad=x")
    with pytest.raises(ValueError, match="invalid label value"):
        parse_label_selector("app=" + "x" * 64)


def test_label_selector_dict_combines_match_labels_and_expressions():
    """Mirrors metav1.LabelSelectorAsSelector."""
    sel = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "legacy", "operator": "DoesNotExist"},
            {"key": "finplane.io/team", "operator": "Exists"},
            {"key": "zone", "operator": "NotIn", "values": ["eu"]},
        ],
    })
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "legacy": "yes"})
    assert not sel.matches({**LABELS, "tier": "db"})


def test_empty_label_selector_dict_matches_everything_and_none_matches_nothing():
    """Mirrors LabelSelectorAsSelector: {} -> Everything(), nil -> Nothing()."""
    assert label_selector_from_dict({}).matches({"a": "b"})
    assert not label_selector_from_dict(None).matches({"a": "b"})


def test_label_selector_dict_with_a_bad_operator_or_missing_values_is_refused():
    with pytest.raises(ValueError, match="not a valid label selector operator"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "Equals"}]})
    with pytest.raises(ValueError, match="values set can't be empty"):
        label_selector_from_dict({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


POD = {"metadata": {"name": "web-1", "namespace": "pay"}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=web-1", True),
        ("metadata.name==web-1", True),
        ("metadata.name=web-2", False),
        ("metadata.name!=web-2", True),
        ("metadata.namespace=pay,metadata.name=web-1", True),
        ("metadata.namespace=pay,metadata.name=other", False),
        ("status.phase!=Running", False),
        ("spec.nodeName=", True),  # absent fields read as the empty string
    ],
)
def test_field_selector_matches_metadata_and_tolerated_kind_fields(text, expected):
    """Mirrors fields.ParseSelector + the per-kind field sets (pods: status.phase, spec.nodeName)."""
    assert parse_field_selector(text).matches(POD) is expected


def test_cluster_scoped_objects_have_an_empty_namespace_field():
    assert parse_field_selector("metadata.namespace=").matches({"metadata": {"name": "n"}})


def test_unsupported_field_label_is_refused_like_the_real_server():
    """Mirrors the 400 'field label not supported: spec.replicas' answer."""
    with pytest.raises(ValueError, match="^field label not supported: spec.replicas$"):
        parse_field_selector("spec.replicas=3")


def test_caller_may_restrict_the_supported_field_labels():
    with pytest.raises(ValueError, match="field label not supported: status.phase"):
        parse_field_selector("status.phase=Running", allowed={"metadata.name", "metadata.namespace"})


def test_field_selector_without_an_operator_is_refused():
    """Mirrors fields.ParseSelector: "invalid selector: '...'; can't understand '...'"."""
    with pytest.raises(ValueError, match="can't understand 'metadata.name'"):
        parse_field_selector("metadata.name")


def test_escaped_commas_are_part_of_a_field_value():
    """Mirrors fields.EscapeValue / UnescapeValue."""
    sel = parse_field_selector(r"metadata.name=a\,b")
    assert sel.matches({"metadata": {"name": "a,b"}})
