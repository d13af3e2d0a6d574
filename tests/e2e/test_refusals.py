"""Every refusal exits with its documented code, says what to fix, and changes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.world import App, live_lock

V1 = "1111111aaaaaaaa"


def refused(app: App, code: int, *fragments: str) -> None:
    before = app.snapshot()
    result = app.bluegreen("deploy", "--commit", V1)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert app.snapshot() == before
    assert app.services() == []


def test_missing_tag_is_refused(app: App) -> None:
    app.elb.remove_tags(LoadBalancerNames=[app.elb_name], Tags=[{"Key": "green"}])
    refused(app, 4, "has no 'green' tag", "add-tags")


def test_tag_that_is_not_a_number_is_refused(app: App) -> None:
    app.set_tags(blue="thirty")
    refused(app, 4, "tag 'blue' is 'thirty', not a port number")


def test_equal_tags_are_refused(app: App) -> None:
    app.set_tags(green=str(app.blue))
    refused(app, 4, "are both")


def test_listener_pointing_at_neither_color_is_refused(app: App) -> None:
    app.point_http_listener(8080)
    refused(app, 4, "listener 80 forwards to port 8080, which is neither")


def test_listeners_that_disagree_are_refused(app: App) -> None:
    app.point_http_listener(app.green)
    refused(app, 4, "listeners disagree")


def test_unknown_load_balancer_is_a_config_error(app: App) -> None:
    app.settings(**{"elb-name": "no-such-elb"})
    refused(app, 2, "'no-such-elb' not found", "elb-name")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ready-timeout": "soon"}, "key 'ready-timeout': expected a positive number"),
        ({"elb-nmae": "x"}, "did you mean 'elb-name'"),
        ({"listeners": [80, 8443]}, "port 8443 is not a listener"),
        ({"namespace": "Not_A_Name"}, "key 'namespace'"),
    ],
)
def test_bad_config_exits_2_naming_the_key(
    app: App, settings: dict[str, object], message: str
) -> None:
    app.settings(**settings)
    refused(app, 2, message, str(app.config))


def test_unknown_template_variable_names_file_line_and_variable(app: App) -> None:
    template = next((app.folder / ".kubernetes" / "deploy").glob("*-controller.yaml.tmpl"))
    template.write_text(template.read_text().replace("${SHORT_COMMIT}", "${SHORT_COMIT}"))
    refused(app, 2, f"{template}:", "unknown template variable $SHORT_COMIT")


def test_missing_namespace_is_refused_before_anything_changes(app: App) -> None:
    app.settings(namespace="nowhere")
    refused(app, 2, "namespace 'nowhere' does not exist")


def test_a_held_lock_exits_3(app: App) -> None:
    before = app.listeners()
    with live_lock(app, "d-OTHER@ci-3"):
        result = app.bluegreen("deploy", "--commit", V1)
    assert result.returncode == 3, result.stderr
    assert "deploy d-OTHER on host ci-3 holds the lock" in result.stderr
    assert app.listeners() == before


def test_unreachable_kubernetes_is_refused_before_anything_changes(app: App) -> None:
    unreachable = app.folder / "unreachable-kubeconfig"
    unreachable.write_text(
        app.sandbox.kubeconfig.read_text().replace(app.sandbox.kube.url, "http://127.0.0.1:9")
    )
    before = app.snapshot()

    result = app.bluegreen("deploy", "--commit", V1, env={"KUBECONFIG": str(unreachable)})

    assert result.returncode == 1, result.stderr
    assert "Kubernetes API at http://127.0.0.1:9 not reachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert app.snapshot() == before
