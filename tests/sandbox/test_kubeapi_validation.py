"""Validation where clusters validate, through the official client: 422 with causes for bad
Services, Leases, names and labels; 400 for bodies that cannot be decoded; 415 for formats the
server does not speak; fieldValidation Strict/Warn/Ignore. Nothing refused is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from .kube_helpers import pod_body, status_body

LEASE_TIME = "2026-01-02T03:04:05.123456Z"


def refused(call: Any, *args: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(client.ApiException) as error:
        call(*args)
    return error.value.status, status_body(error.value)


def causes(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["reason"], c["field"]) for c in body["details"]["causes"]]


def service(ports: list[dict[str, Any]] | None, kind: str = "NodePort") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind, "selector": {"app": "web"}}
    if ports is not None:
        spec["ports"] = ports
    return {"metadata": {"name": "web"}, "spec": spec}


def raw(api_client: Any, method: str, path: str, body: bytes, content_type: str) -> Any:
    """A request with a body exactly as given, through the client's own connection pool."""
    configuration = api_client.configuration
    return api_client.rest_client.pool_manager.request(
        method,
        configuration.host + path,
        body=body,
        headers={"Content-Type": content_type, "Accept": "application/json"},
    )


def post_json(api_client: Any, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = raw(api_client, "POST", path, json.dumps(body).encode(), "application/json")
    return response.status, json.loads(response.data)


SERVICES = "/api/v1/namespaces/default/services"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"


# --- Services -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["NodePort", "ClusterIP"])
def test_a_service_needs_ports(core: Any, kind: str) -> None:
    status, body = refused(core.create_namespaced_service, "default", service(None, kind))
    assert (status, body["reason"]) == (422, "Invalid")
    assert causes(body) == [("FieldValueRequired", "spec.ports")]
    assert body["message"] == 'Service "web" is invalid: spec.ports: Required value'
    assert body["details"]["name"] == "web"
    assert core.list_namespaced_service("default").items == []


def test_a_headless_service_needs_no_ports(core: Any) -> None:
    body = service(None, "ClusterIP")
    body["spec"]["clusterIP"] = "None"
    assert core.create_namespaced_service("default", body).spec.cluster_ip == "None"


def test_several_ports_need_unique_names(core: Any) -> None:
    _, unnamed = refused(
        core.create_namespaced_service, "default", service([{"port": 80}, {"port": 443}])
    )
    assert causes(unnamed) == [
        ("FieldValueRequired", "spec.ports[0].name"),
        ("FieldValueRequired", "spec.ports[1].name"),
    ]
    _, same = refused(
        core.create_namespaced_service,
        "default",
        service([{"name": "web", "port": 80}, {"name": "web", "port": 443}]),
    )
    assert causes(same) == [("FieldValueDuplicate", "spec.ports[1].name")]
    assert same["details"]["causes"][0]["message"] == 'Duplicate value: "web"'


def test_port_and_protocol_pairs_are_unique(core: Any) -> None:
    _, body = refused(
        core.create_namespaced_service,
        "default",
        service([{"name": "a", "port": 80}, {"name": "b", "port": 80, "protocol": "TCP"}]),
    )
    assert causes(body) == [("FieldValueDuplicate", "spec.ports[1]")]
    both = service(
        [{"name": "a", "port": 53, "protocol": "TCP"}, {"name": "b", "port": 53, "protocol": "UDP"}]
    )
    created = core.create_namespaced_service("default", both)
    assert [p.protocol for p in created.spec.ports] == ["TCP", "UDP"]


def test_unsupported_protocol_and_bad_ports(core: Any) -> None:
    _, body = refused(
        core.create_namespaced_service,
        "default",
        service([{"port": 0, "protocol": "HTTP", "targetPort": 70000}]),
    )
    assert causes(body) == [
        ("FieldValueInvalid", "spec.ports[0].port"),
        ("FieldValueNotSupported", "spec.ports[0].protocol"),
        ("FieldValueInvalid", "spec.ports[0].targetPort"),
    ]
    messages = [c["message"] for c in body["details"]["causes"]]
    assert messages[1] == 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'
    assert messages[2] == "Invalid value: 70000: must be between 1 and 65535, inclusive"


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("http_alt", "must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)"),
        ("8080", "must contain at least one letter (a-z)"),
        ("a-very-long-port-name", "must be no more than 15 characters"),
        ("-web", "must not begin or end with a hyphen"),
        ("web--1", "must not contain consecutive hyphens"),
    ],
)
def test_a_named_target_port_must_be_an_iana_service_name(
    core: Any, target: str, problem: str
) -> None:
    _, body = refused(
        core.create_namespaced_service, "default", service([{"port": 80, "targetPort": target}])
    )
    assert causes(body) == [("FieldValueInvalid", "spec.ports[0].targetPort")]
    assert body["details"]["causes"][0]["message"] == f'Invalid value: "{target}": {problem}'


def test_a_named_target_port_is_fine(core: Any) -> None:
    created = core.create_namespaced_service(
        "default", service([{"port": 80, "targetPort": "http-alt"}])
    )
    assert created.spec.ports[0].target_port == "http-alt"


def test_node_ports_in_range_and_unique_within_and_across_services(core: Any) -> None:
    _, out = refused(
        core.create_namespaced_service, "default", service([{"port": 80, "nodePort": 80}])
    )
    assert causes(out) == [("FieldValueInvalid", "spec.ports[0].nodePort")]
    _, twice = refused(
        core.create_namespaced_service,
        "default",
        service(
            [
                {"name": "a", "port": 80, "nodePort": 30500},
                {"name": "b", "port": 81, "nodePort": 30500},
            ]
        ),
    )
    assert causes(twice) == [("FieldValueDuplicate", "spec.ports[1].nodePort")]
    core.create_namespaced_service("default", service([{"port": 80, "nodePort": 30500}]))
    other = service([{"port": 80, "nodePort": 30500}])
    other["metadata"]["name"] = "other"
    _, taken = refused(core.create_namespaced_service, "default", other)
    assert "provided port is already allocated" in taken["message"]
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == ["web"]


def test_an_unknown_service_type_is_not_supported(core: Any) -> None:
    _, body = refused(core.create_namespaced_service, "default", service([{"port": 80}], "Magic"))
    assert causes(body) == [("FieldValueNotSupported", "spec.type")]


# --- Leases ---------------------------------------------------------------------------------


def lease(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "lock"},
        "spec": {"holderIdentity": "me", "renewTime": LEASE_TIME, **spec},
    }


@pytest.mark.parametrize("seconds", [0, -5])
def test_a_lease_duration_must_be_positive(coordination: Any, seconds: int) -> None:
    status, body = refused(
        coordination.create_namespaced_lease, "default", lease(leaseDurationSeconds=seconds)
    )
    assert status == 422
    assert causes(body) == [("FieldValueInvalid", "spec.leaseDurationSeconds")]
    assert body["details"]["causes"][0]["message"].endswith("must be greater than 0")
    assert coordination.list_namespaced_lease("default").items == []


@pytest.mark.parametrize(
    "when",
    [
        "garbage",
        "2026-01-02T03:04:05Z",
        "2026-01-02 03:04:05.123456Z",
        "2026-13-02T03:04:05.123456Z",
    ],
)
def test_lease_times_must_be_rfc3339_micro_times(
    api_client: Any, coordination: Any, when: str
) -> None:
    # the typed API would refuse these before sending: post the JSON as other clients would
    status, body = post_json(api_client, LEASES, lease(renewTime=when))
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith(
        f'Lease in version "v1" cannot be handled as a Lease: parsing time "{when}"'
    )
    assert coordination.list_namespaced_lease("default").items == []


def test_a_lease_holder_must_be_a_string(api_client: Any) -> None:
    status, body = post_json(api_client, LEASES, lease(holderIdentity=42))
    assert status == 400
    assert (
        "cannot unmarshal number into Go struct field LeaseSpec.spec.holderIdentity"
        in (body["message"])
    )


def test_a_valid_lease_with_an_offset_time(coordination: Any) -> None:
    created = coordination.create_namespaced_lease(
        "default", lease(leaseDurationSeconds=15, acquireTime="2026-01-02T03:04:05.500000+02:00")
    )
    assert created.spec.lease_duration_seconds == 15


# --- names, labels, annotations -------------------------------------------------------------


def test_names_follow_each_kinds_rule(core: Any) -> None:
    _, pod = refused(core.create_namespaced_pod, "default", pod_body("Web_1"))
    assert causes(pod) == [("FieldValueInvalid", "metadata.name")]
    assert "a lowercase RFC 1123 subdomain must consist of" in pod["message"]
    assert core.create_namespaced_pod("default", pod_body("1.web")).metadata.name == "1.web"
    numbered = service([{"port": 80}])
    numbered["metadata"]["name"] = "1web"
    _, svc = refused(core.create_namespaced_service, "default", numbered)
    assert "a DNS-1035 label must consist of" in svc["message"]
    _, ns = refused(core.create_namespace, {"metadata": {"name": "a.b"}})
    assert "a lowercase RFC 1123 label must consist of" in ns["message"]


def test_labels_and_annotations_are_checked(core: Any) -> None:
    body = pod_body("p", {"app": "bad value!"})
    _, bad_value = refused(core.create_namespaced_pod, "default", body)
    assert causes(bad_value) == [("FieldValueInvalid", "metadata.labels")]
    assert "a valid label must be an empty string" in bad_value["message"]
    body = pod_body("p")
    body["metadata"]["annotations"] = {"not a key": "x"}
    _, bad_key = refused(core.create_namespaced_pod, "default", body)
    assert causes(bad_key) == [("FieldValueInvalid", "metadata.annotations")]
    body["metadata"]["annotations"] = {"big": "x" * (256 * 1024)}
    _, too_big = refused(core.create_namespaced_pod, "default", body)
    assert causes(too_big) == [("FieldValueTooLong", "metadata.annotations")]
    assert core.list_namespaced_pod("default").items == []


# --- bodies ---------------------------------------------------------------------------------


def test_malformed_json_is_a_bad_request(api_client: Any, core: Any) -> None:
    response = raw(
        api_client, "POST", "/api/v1/namespaces/default/pods", b'{"metadata": ', "application/json"
    )
    body = json.loads(response.data)
    assert (response.status, body["reason"]) == (400, "BadRequest")
    assert body["message"].startswith("couldn't get version/kind; json parse error: ")
    assert core.list_namespaced_pod("default").items == []


def test_yaml_bodies_are_understood_and_malformed_yaml_refused(api_client: Any, core: Any) -> None:
    manifest = b"metadata:\n  name: from-yaml\nspec:\n  containers:\n  - name: a\n    image: x\n"
    created = raw(
        api_client, "POST", "/api/v1/namespaces/default/pods", manifest, "application/yaml"
    )
    assert created.status == 201
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["from-yaml"]
    broken = raw(
        api_client, "POST", "/api/v1/namespaces/default/pods", b"a: b: c\n", "application/yaml"
    )
    body = json.loads(broken.data)
    assert broken.status == 400
    assert body["message"].startswith("error converting YAML to JSON: yaml: line 1: ")


@pytest.mark.parametrize(
    "content_type", ["application/vnd.kubernetes.protobuf", "application/cbor", "text/plain"]
)
def test_formats_the_server_does_not_speak_get_415(
    api_client: Any, core: Any, content_type: str
) -> None:
    response = raw(
        api_client, "POST", "/api/v1/namespaces/default/pods", b"k8s\x00\x0a\x09", content_type
    )
    body = json.loads(response.data)
    assert (response.status, body["reason"], body["code"]) == (415, "UnsupportedMediaType", 415)
    assert "application/json" in body["message"]
    assert core.list_namespaced_pod("default").items == []
    # the client's fallback: the same object as JSON is created
    again = raw(
        api_client,
        "POST",
        "/api/v1/namespaces/default/pods",
        json.dumps(pod_body("p")).encode(),
        "application/json",
    )
    assert again.status == 201


def test_field_validation_strict_refuses_unknown_fields(api_client: Any, core: Any) -> None:
    body = service([{"port": 80, "bogus": 1}])
    body["spec"]["foo"] = "bar"
    # the typed API refuses unknown fields itself; other clients (kubectl) send them
    status, error = post_json(api_client, SERVICES + "?fieldValidation=Strict", body)
    assert (status, error["reason"]) == (400, "BadRequest")
    assert error["message"] == (
        'strict decoding error: unknown field "spec.ports[0].bogus", unknown field "spec.foo"'
    )  # in the order of the document
    assert core.list_namespaced_service("default").items == []


def test_field_validation_warn_and_ignore_drop_unknown_fields(api_client: Any, core: Any) -> None:
    body = service([{"port": 80}])
    body["spec"]["foo"] = "bar"
    response = api_client.rest_client.pool_manager.request(
        "POST",
        api_client.configuration.host + "/api/v1/namespaces/default/services",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201
    assert response.headers["Warning"] == '299 - "unknown field \\"spec.foo\\""'
    assert "foo" not in json.loads(response.data)["spec"]

    body["metadata"]["name"] = "quiet"
    response = api_client.rest_client.pool_manager.request(
        "POST",
        api_client.configuration.host
        + "/api/v1/namespaces/default/services?fieldValidation=Ignore",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 201
    assert "Warning" not in response.headers
    stored = core.read_namespaced_service("quiet", "default")
    assert stored.spec.ports[0].port == 80


def test_an_unknown_field_validation_mode_is_refused(core: Any) -> None:
    status, body = refused(
        lambda: core.create_namespaced_service(
            "default", service([{"port": 80}]), field_validation="Loose"
        )
    )
    assert status == 400
    assert 'fieldValidation: Unsupported value: "Loose"' in body["message"]


# --- updates are validated too --------------------------------------------------------------


def test_a_replace_that_breaks_the_rules_changes_nothing(core: Any) -> None:
    created = core.create_namespaced_service("default", service([{"name": "a", "port": 80}]))
    body = service([{"name": "a", "port": 80}, {"name": "a", "port": 81}])
    body["metadata"]["resourceVersion"] = created.metadata.resource_version
    _, error = refused(core.replace_namespaced_service, "web", "default", body)
    assert causes(error) == [("FieldValueDuplicate", "spec.ports[1].name")]
    stored = core.read_namespaced_service("web", "default")
    assert stored.metadata.resource_version == created.metadata.resource_version
    assert [p.port for p in stored.spec.ports] == [80]


def test_a_strict_patch_with_an_unknown_field_changes_nothing(api_client: Any, core: Any) -> None:
    created = core.create_namespaced_service("default", service([{"port": 80}]))
    response = raw(
        api_client,
        "PATCH",
        SERVICES + "/web?fieldValidation=Strict",
        json.dumps({"spec": {"sessionAffinity": "ClientIP", "colour": "blue"}}).encode(),
        "application/merge-patch+json",
    )
    body = json.loads(response.data)
    assert response.status == 400
    assert body["message"] == 'strict decoding error: unknown field "spec.colour"'
    stored = core.read_namespaced_service("web", "default")
    assert stored.metadata.resource_version == created.metadata.resource_version
    assert stored.spec.session_affinity == "None"


def test_a_patch_in_a_format_the_server_does_not_speak_gets_415(api_client: Any, core: Any) -> None:
    core.create_namespaced_service("default", service([{"port": 80}]))
    response = raw(
        api_client,
        "PATCH",
        SERVICES + "/web",
        b"spec:\n  sessionAffinity: ClientIP\n",
        "application/apply-patch+yaml",
    )
    body = json.loads(response.data)
    assert (response.status, body["reason"]) == (415, "UnsupportedMediaType")
    assert "application/strategic-merge-patch+json" in body["message"]
    assert core.read_namespaced_service("web", "default").spec.session_affinity == "None"


def test_a_lease_renewal_with_a_bad_time_changes_nothing(
    api_client: Any, coordination: Any
) -> None:
    created = coordination.create_namespaced_lease(
        "default", lease(leaseDurationSeconds=10, renewTime=LEASE_TIME)
    )
    response = raw(
        api_client,
        "PUT",
        LEASES + "/lock",
        json.dumps(
            {
                **lease(leaseDurationSeconds=10, renewTime="yesterday"),
                "metadata": {"name": "lock", "resourceVersion": created.metadata.resource_version},
            }
        ).encode(),
        "application/json",
    )
    assert response.status == 400
    stored = coordination.read_namespaced_lease("lock", "default")
    assert stored.metadata.resource_version == created.metadata.resource_version
