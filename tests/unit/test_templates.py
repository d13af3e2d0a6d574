"""bluegreen_hooks.templates: strict substitution, template lookup, safe YAML, stamping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bluegreen_hooks.colors import Color
from bluegreen_hooks.errors import USAGE, TemplateError
from bluegreen_hooks.templates import (
    ANNOTATION_HASH,
    LABEL_APPLICATION,
    LABEL_COLOR,
    LABEL_COMMIT,
    TemplateSet,
    find_templates,
    load_manifests,
    stamp,
    substitute,
    to_yaml,
)

SOURCE = Path("deploy/app-service.yaml.tmpl")
VARIABLES = {"COLOR": "blue", "PORT": "30001", "APPLICATION_NAME": "triggers-service"}


# --- substitute ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("port: $PORT", "port: 30001"),
        ("port: ${PORT}", "port: 30001"),
        ("name: ${APPLICATION_NAME}-${COLOR}", "name: triggers-service-blue"),
        ("name: $APPLICATION_NAME-$COLOR", "name: triggers-service-blue"),
        ("${COLOR}suffix", "bluesuffix"),
        ("price: $$5", "price: $5"),
        ("literal: $$PORT", "literal: $PORT"),
        ("two: $$$$", "two: $$"),
        ("$$$PORT", "$30001"),
        ("no variables at all", "no variables at all"),
    ],
)
def test_substitute_replaces_variables_and_unescapes_dollars(text: str, expected: str) -> None:
    assert substitute(text, VARIABLES, SOURCE) == expected


def test_substitute_does_not_rescan_substituted_values() -> None:
    assert substitute("$A", {"A": "$B", "B": "no"}, SOURCE) == "$B"


@pytest.mark.parametrize(
    ("text", "line", "variable"),
    [
        ("$NOPE", 1, "NOPE"),
        ("a: 1\nb: 2\nc: ${MISSING}\n", 3, "MISSING"),
        ("# comment mentions $PORT\nimage: app:$TAG\n", 2, "TAG"),
        ("$COLORsuffix", 1, "COLORsuffix"),
        ("$color", 1, "color"),
    ],
)
def test_unknown_variable_error_names_file_line_and_variable(
    text: str, line: int, variable: str
) -> None:
    with pytest.raises(TemplateError) as exc:
        substitute(text, VARIABLES, SOURCE)

    assert exc.value.message == f"{SOURCE}:{line}: unknown template variable ${variable}"
    assert exc.value.hint is not None
    assert "APPLICATION_NAME, COLOR, PORT" in exc.value.hint
    assert "template-env" in exc.value.hint


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("cost: 5$", 1),
        ("a: 1\nb: $ 2\n", 2),
        ("x: ${PORT", 1),
        ("x: ${}", 1),
        ("x: ${1ST}", 1),
        ("\n\n\nx: $-", 4),
    ],
)
def test_stray_dollar_is_an_error_naming_file_and_line(text: str, line: int) -> None:
    with pytest.raises(TemplateError) as exc:
        substitute(text, VARIABLES, SOURCE)

    assert exc.value.message == f"{SOURCE}:{line}: stray '$' in template"
    assert exc.value.hint is not None and "$$" in exc.value.hint


def test_template_errors_exit_with_the_usage_code() -> None:
    assert TemplateError("x").exit_code == USAGE


# --- find_templates ------------------------------------------------------------------------------


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("", encoding="utf-8")


@pytest.mark.parametrize("color", ["blue", "green"])
def test_find_templates_prefers_the_seeds_per_color_names(tmp_path: Path, color: Color) -> None:
    _touch(
        tmp_path,
        f"app-{color}-service.yaml.tmpl",
        f"app-{color}-controller.yaml.tmpl",
        "app-service.yaml.tmpl",
        "app-controller.yaml.tmpl",
    )

    assert find_templates(tmp_path, "app", color) == TemplateSet(
        service=tmp_path / f"app-{color}-service.yaml.tmpl",
        controller=tmp_path / f"app-{color}-controller.yaml.tmpl",
    )


def test_find_templates_falls_back_to_color_agnostic_names(tmp_path: Path) -> None:
    _touch(tmp_path, "app-service.yaml.tmpl", "app-controller.yaml.tmpl")

    assert find_templates(tmp_path, "app", "green") == TemplateSet(
        service=tmp_path / "app-service.yaml.tmpl",
        controller=tmp_path / "app-controller.yaml.tmpl",
    )


def test_find_templates_ignores_the_other_colors_files(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "app-blue-service.yaml.tmpl",
        "app-blue-controller.yaml.tmpl",
        "app-service.yaml.tmpl",
        "app-controller.yaml.tmpl",
    )

    assert find_templates(tmp_path, "app", "green").service == tmp_path / "app-service.yaml.tmpl"


def test_find_templates_needs_both_files_of_a_pair(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "app-blue-service.yaml.tmpl",
        "app-service.yaml.tmpl",
        "app-controller.yaml.tmpl",
    )

    found = find_templates(tmp_path, "app", "blue")

    assert found.service == tmp_path / "app-service.yaml.tmpl"
    assert found.controller == tmp_path / "app-controller.yaml.tmpl"


@pytest.mark.parametrize(
    "present",
    [
        (),
        ("app-blue-service.yaml.tmpl",),
        ("app-green-service.yaml.tmpl", "app-green-controller.yaml.tmpl"),
        ("other-service.yaml.tmpl", "other-controller.yaml.tmpl"),
        ("app-service.yaml", "app-controller.yaml"),
    ],
)
def test_find_templates_without_a_pair_is_an_error_naming_folder_app_and_color(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    _touch(tmp_path, *present)

    with pytest.raises(TemplateError) as exc:
        find_templates(tmp_path, "app", "blue")

    assert exc.value.message == f"no templates for app (blue) in {tmp_path}"
    assert exc.value.hint is not None
    assert "app-service.yaml.tmpl" in exc.value.hint
    assert "app-blue-service.yaml.tmpl" in exc.value.hint


def test_find_templates_in_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="no templates for app"):
        find_templates(tmp_path / "absent", "app", "green")


# --- load_manifests ------------------------------------------------------------------------------

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: app-blue
spec:
  type: NodePort
  ports:
    - port: 80
      nodePort: 30001
"""

RC = """\
apiVersion: v1
kind: ReplicationController
metadata:
  name: app-blue
spec:
  replicas: 2
  selector:
    name: app-blue
  template:
    metadata:
      labels:
        name: app-blue
    spec:
      containers:
        - name: app
          image: app:abc
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-blue
spec:
  selector:
    matchLabels:
      app: app
  template:
    metadata:
      labels:
        app: app
    spec:
      containers:
        - name: app
          image: app:abc
"""


@pytest.mark.parametrize(
    ("text", "kind"),
    [(SERVICE, "Service"), (RC, "ReplicationController"), (DEPLOYMENT, "Deployment")],
)
def test_load_manifests_accepts_each_supported_kind(text: str, kind: str) -> None:
    [manifest] = load_manifests(text, SOURCE)

    assert manifest["kind"] == kind
    assert manifest["metadata"]["name"] == "app-blue"


def test_load_manifests_reads_every_document_and_skips_empty_ones() -> None:
    text = "---\n" + SERVICE + "---\n---\n# only a comment\n---\n" + DEPLOYMENT

    manifests = load_manifests(text, SOURCE)

    assert [m["kind"] for m in manifests] == ["Service", "Deployment"]


def test_load_manifests_of_an_empty_file_is_an_empty_list() -> None:
    assert load_manifests("# nothing here\n", SOURCE) == []


@pytest.mark.parametrize(
    "document",
    [
        "!!python/object:argparse.Namespace {kind: Service, apiVersion: v1}\n",
        "!!python/object/new:argparse.Namespace {kwds: {kind: Service}}\n",
        "apiVersion: v1\nkind: !!python/name:builtins.str ''\n",
    ],
)
def test_load_manifests_rejects_python_tags(document: str) -> None:
    with pytest.raises(TemplateError) as exc:
        load_manifests(document, SOURCE)

    assert exc.value.message.startswith(f"{SOURCE}: rendered YAML does not parse")
    assert "python/" in exc.value.message


def test_load_manifests_never_runs_code_from_an_apply_tag(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"!!python/object/apply:pathlib.Path.touch [{str(marker)!r}]\n"

    with pytest.raises(TemplateError):
        load_manifests(text, SOURCE)

    assert not marker.exists()


def test_load_manifests_reports_yaml_syntax_errors_with_the_file() -> None:
    with pytest.raises(TemplateError) as exc:
        load_manifests("kind: Service\n  metadata: [unclosed\n", SOURCE)

    assert exc.value.message.startswith(f"{SOURCE}: rendered YAML does not parse")


@pytest.mark.parametrize("document", ["- a\n- b\n", "just text\n", "42\n"])
def test_load_manifests_rejects_documents_that_are_not_mappings(document: str) -> None:
    with pytest.raises(TemplateError, match="each document must be a mapping"):
        load_manifests(document, SOURCE)


@pytest.mark.parametrize(
    "kind_line",
    ["kind: ConfigMap", "kind: Pod", "kind: service", "kind: null", "kind: [Service]"],
)
def test_load_manifests_rejects_unsupported_kinds(kind_line: str) -> None:
    text = f"apiVersion: v1\n{kind_line}\nmetadata:\n  name: x\n"

    with pytest.raises(TemplateError) as exc:
        load_manifests(text, SOURCE)

    assert exc.value.message.startswith(f"{SOURCE}: unsupported kind ")
    assert exc.value.hint is not None and "apps/v1 Deployment" in exc.value.hint


def test_load_manifests_rejects_a_document_without_kind() -> None:
    with pytest.raises(TemplateError, match="unsupported kind None"):
        load_manifests("apiVersion: v1\nmetadata:\n  name: x\n", SOURCE)


@pytest.mark.parametrize(
    ("text", "kind", "wanted", "got"),
    [
        (
            DEPLOYMENT.replace("apps/v1", "extensions/v1beta1"),
            "Deployment",
            "apps/v1",
            "extensions/v1beta1",
        ),
        (DEPLOYMENT.replace("apps/v1", "apps/v1beta2"), "Deployment", "apps/v1", "apps/v1beta2"),
        (
            DEPLOYMENT.replace("apiVersion: apps/v1", "apiVersion: v1"),
            "Deployment",
            "apps/v1",
            "v1",
        ),
        (
            RC.replace("apiVersion: v1", "apiVersion: apps/v1"),
            "ReplicationController",
            "v1",
            "apps/v1",
        ),
        (SERVICE.replace("apiVersion: v1\n", ""), "Service", "v1", None),
    ],
)
def test_load_manifests_rejects_the_wrong_api_version(
    text: str, kind: str, wanted: str, got: str | None
) -> None:
    with pytest.raises(TemplateError) as exc:
        load_manifests(text, SOURCE)

    assert exc.value.message == f"{SOURCE}: {kind} must use apiVersion {wanted}, got {got!r}"


@pytest.mark.parametrize(
    "metadata",
    ["metadata:\n  labels: {a: b}\n", "metadata:\n  name: ''\n", "metadata: [x]\n", ""],
)
def test_load_manifests_rejects_a_missing_name(metadata: str) -> None:
    text = f"apiVersion: v1\nkind: Service\n{metadata}spec: {{}}\n"

    with pytest.raises(TemplateError) as exc:
        load_manifests(text, SOURCE)

    assert exc.value.message == f"{SOURCE}: Service has no metadata.name"


@pytest.mark.parametrize(
    ("api_version", "kind"), [("v1", "ReplicationController"), ("apps/v1", "Deployment")]
)
@pytest.mark.parametrize(
    "spec", ["spec:\n  replicas: 1\n", "spec:\n  template: nginx\n", "spec: []\n", ""]
)
def test_load_manifests_rejects_a_workload_without_a_pod_template(
    api_version: str, kind: str, spec: str
) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: app-blue\n{spec}"

    with pytest.raises(TemplateError) as exc:
        load_manifests(text, SOURCE)

    assert exc.value.message == f"{SOURCE}: {kind} app-blue has no spec.template"


def test_load_manifests_allows_a_service_without_a_pod_template() -> None:
    [service] = load_manifests(SERVICE, SOURCE)

    assert "template" not in service["spec"]


def test_to_yaml_round_trips_through_load_manifests() -> None:
    manifests = load_manifests(SERVICE + "---\n" + RC, SOURCE)

    assert load_manifests(to_yaml(manifests), SOURCE) == manifests


# --- stamp ---------------------------------------------------------------------------------------


def _one(text: str) -> dict[str, Any]:
    [manifest] = load_manifests(text, SOURCE)
    return manifest


def _stamp(manifest: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "application": "app",
        "color": "blue",
        "commit": "0a1b2c3d",
        "namespace": "default",
    }
    arguments.update(overrides)
    return stamp(manifest, **arguments)


EXPECTED_LABELS = {LABEL_APPLICATION: "app", LABEL_COLOR: "blue", LABEL_COMMIT: "0a1b2c3d"}


@pytest.mark.parametrize("text", [RC, DEPLOYMENT])
def test_stamp_labels_a_workload_and_its_pod_template(text: str) -> None:
    stamped = _stamp(_one(text))

    assert EXPECTED_LABELS.items() <= stamped["metadata"]["labels"].items()
    assert EXPECTED_LABELS.items() <= stamped["spec"]["template"]["metadata"]["labels"].items()


def test_stamp_keeps_the_templates_own_labels() -> None:
    stamped = _stamp(_one(RC))

    assert stamped["spec"]["template"]["metadata"]["labels"]["name"] == "app-blue"


def test_stamp_adds_pod_labels_when_the_template_has_no_metadata() -> None:
    manifest = _one(DEPLOYMENT)
    del manifest["spec"]["template"]["metadata"]

    stamped = _stamp(manifest)

    assert stamped["spec"]["template"]["metadata"]["labels"] == EXPECTED_LABELS


def test_stamp_treats_an_empty_labels_block_as_no_labels() -> None:
    text = SERVICE.replace("  name: app-blue\n", "  name: app-blue\n  labels:\n    # app: x\n")
    manifest = _one(text)
    assert manifest["metadata"]["labels"] is None

    stamped = _stamp(manifest)

    assert stamped["metadata"]["labels"] == {LABEL_APPLICATION: "app", LABEL_COLOR: "blue"}


def test_stamp_labels_a_service_without_inventing_a_pod_template() -> None:
    stamped = _stamp(_one(SERVICE), color="green")

    assert stamped["metadata"]["labels"][LABEL_COLOR] == "green"
    assert LABEL_COMMIT not in stamped["metadata"]["labels"]
    assert "template" not in stamped["spec"]


def test_a_service_hash_does_not_depend_on_the_commit() -> None:
    first = _stamp(_one(SERVICE), commit="1111111")
    second = _stamp(_one(SERVICE), commit="2222222")

    assert first["metadata"]["annotations"] == second["metadata"]["annotations"]


@pytest.mark.parametrize("text", [RC, DEPLOYMENT])
def test_a_workload_hash_depends_on_the_commit(text: str) -> None:
    first = _stamp(_one(text), commit="1111111")
    second = _stamp(_one(text), commit="2222222")

    assert first["metadata"]["annotations"] != second["metadata"]["annotations"]


def test_stamp_sets_the_configured_namespace() -> None:
    stamped = _stamp(_one(SERVICE), namespace="team-a")

    assert stamped["metadata"]["namespace"] == "team-a"


def test_stamp_accepts_a_template_that_names_the_same_namespace() -> None:
    manifest = _one(SERVICE)
    manifest["metadata"]["namespace"] = "team-a"

    assert _stamp(manifest, namespace="team-a")["metadata"]["namespace"] == "team-a"


def test_stamp_rejects_a_template_that_names_another_namespace() -> None:
    manifest = _one(DEPLOYMENT)
    manifest["metadata"]["namespace"] = "kube-system"

    with pytest.raises(TemplateError) as exc:
        _stamp(manifest, namespace="default")

    assert exc.value.message == (
        "Deployment app-blue asks for namespace 'kube-system', but the config deploys to 'default'"
    )


def test_stamp_does_not_modify_its_input() -> None:
    manifest = _one(RC)
    before = load_manifests(RC, SOURCE)[0]

    _stamp(manifest)

    assert manifest == before


def test_stamp_adds_a_short_hex_content_hash() -> None:
    digest = _stamp(_one(SERVICE))["metadata"]["annotations"][ANNOTATION_HASH]

    assert re.fullmatch(r"[0-9a-f]{16}", digest)


def test_stamp_keeps_existing_annotations() -> None:
    manifest = _one(SERVICE)
    manifest["metadata"]["annotations"] = {"team": "triggers"}

    annotations = _stamp(manifest)["metadata"]["annotations"]

    assert annotations["team"] == "triggers"
    assert ANNOTATION_HASH in annotations


def _hash(manifest: dict[str, Any], **overrides: Any) -> str:
    digest: str = _stamp(manifest, **overrides)["metadata"]["annotations"][ANNOTATION_HASH]
    return digest


def test_stamp_hash_is_stable_for_the_same_content() -> None:
    assert _hash(_one(DEPLOYMENT)) == _hash(_one(DEPLOYMENT))


def test_stamp_hash_does_not_depend_on_key_order() -> None:
    manifest = _one(SERVICE)
    reordered = dict(reversed(list(manifest.items())))

    assert list(reordered) != list(manifest)
    assert _hash(reordered) == _hash(manifest)


def test_stamp_hash_changes_when_the_content_changes() -> None:
    changed = _one(DEPLOYMENT.replace("image: app:abc", "image: app:def"))

    assert _hash(changed) != _hash(_one(DEPLOYMENT))


@pytest.mark.parametrize(
    "override",
    [{"commit": "ffffffff"}, {"color": "green"}, {"application": "other"}, {"namespace": "ns"}],
)
def test_stamp_hash_changes_with_the_stamped_labels_and_namespace(
    override: dict[str, str],
) -> None:
    assert _hash(_one(RC), **override) != _hash(_one(RC))
