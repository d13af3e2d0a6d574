"""The first deploy of an app the seed's scripts deployed: their `<app>-<color>` Services and
workloads carry none of our labels. The idle color's are replaced, the live color's workload
is only labelled, and the live color keeps serving throughout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import watch

from tests.e2e.crash import FAST_LEASE, assert_converged, run_until_killed
from tests.e2e.test_least_privilege import REPLICATION_CONTROLLER
from tests.e2e.world import App

V0 = "0000000seedseed"  # what the seed's scripts last deployed
V1 = "1111111aaaaaaaa"
V2 = "2222222bbbbbbbb"


def use_seed_templates(app: App) -> None:
    """The seed's per-color file names, with a ReplicationController as the seed had."""
    folder = app.folder / ".kubernetes" / "deploy"
    service = (folder / f"{app.name}-service.yaml.tmpl").read_text()
    (folder / f"{app.name}-controller.yaml.tmpl").unlink()
    (folder / f"{app.name}-service.yaml.tmpl").unlink()
    for color in ("blue", "green"):
        (folder / f"{app.name}-{color}-service.yaml.tmpl").write_text(service)
        (folder / f"{app.name}-{color}-controller.yaml.tmpl").write_text(REPLICATION_CONTROLLER)


def seed_deploys(app: App, kind: str, colors: tuple[str, ...] = ("blue", "green")) -> None:
    """What the seed's `kubectl create -f` left: per color a NodePort Service and a workload,
    labelled `name=<app>-<color>` only."""
    for color in colors:
        name = f"{app.name}-{color}"
        labels = {"name": name}
        app.core.create_namespaced_service(
            "default",
            {
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "type": "NodePort",
                    "selector": labels,
                    "ports": [{"port": 80, "targetPort": 8080, "nodePort": app.port(color)}],
                },
            },
        )
        template = {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": f"octoblu/{app.name}:{V0}"}]},
        }
        if kind == "ReplicationController":
            app.core.create_namespaced_replication_controller(
                "default",
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"replicas": 2, "selector": labels, "template": template},
                },
            )
        else:
            app.apps.create_namespaced_deployment(
                "default",
                {
                    "metadata": {"name": name, "labels": labels},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": labels},
                        "template": template,
                    },
                },
            )
    for color in colors:
        wait_for_ready_seed_pods(app, color)


def seed_pods(app: App, color: str) -> list[Any]:
    selector = f"name={app.name}-{color}"
    return list(app.core.list_namespaced_pod("default", label_selector=selector).items)


def wait_for_ready_seed_pods(app: App, color: str) -> None:
    selector = f"name={app.name}-{color}"
    listing = app.core.list_namespaced_pod("default", label_selector=selector)
    pods = {p.metadata.name: p for p in listing.items}
    if len(pods) == 2 and all(_ready(p) for p in pods.values()):
        return
    watcher = new_watch()
    stream = watcher.stream(
        app.core.list_namespaced_pod,
        "default",
        label_selector=selector,
        resource_version=listing.metadata.resource_version,
        timeout_seconds=20,
    )
    for event in stream:
        pods[event["object"].metadata.name] = event["object"]
        if len(pods) == 2 and all(_ready(p) for p in pods.values()):
            stream.close()
            return
    raise AssertionError(f"the seed's {color} pods never became Ready")


def new_watch() -> Any:
    factory: Any = watch.Watch  # untyped constructor
    return factory()


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def workload(app: App, kind: str, name: str) -> Any:
    if kind == "ReplicationController":
        return app.core.read_namespaced_replication_controller(name, "default")
    return app.apps.read_namespaced_deployment(name, "default")


def seed_pods_version(app: App, color: str) -> str:
    listing = app.core.list_namespaced_pod("default", label_selector=f"name={app.name}-{color}")
    return str(listing.metadata.resource_version)


def seed_pod_events_since(app: App, color: str, version: str) -> list[tuple[str, str]]:
    """Every (event type, pod name) of the seed's pods of one color since `version`, replayed
    from the API's watch history."""
    watcher = new_watch()
    return [
        (event["type"], event["object"].metadata.name)
        for event in watcher.stream(
            app.core.list_namespaced_pod,
            "default",
            label_selector=f"name={app.name}-{color}",
            resource_version=version,
            timeout_seconds=1,
        )
    ]


def log_lines(stderr: str) -> list[dict[str, Any]]:
    lines = []
    for line in stderr.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def adoptions(stderr: str) -> dict[str, tuple[str, str]]:
    """From the deploy's log: event -> (action, color) of each adoption."""
    return {
        line["event"]: (line["action"], line["color"])
        for line in log_lines(stderr)
        if str(line.get("event", "")).startswith("adopting ")
    }


@pytest.mark.parametrize(
    ("kind", "templates"),
    [
        ("ReplicationController", "ReplicationController"),
        ("Deployment", "Deployment"),
        ("ReplicationController", "Deployment"),  # the team moved to Deployments meanwhile
    ],
    ids=["rc", "deployment", "rc-to-deployment"],
)
def test_the_first_deploy_adopts_the_seeds_app_and_the_live_color_keeps_serving(
    app: App, kind: str, templates: str
) -> None:
    if templates == "ReplicationController":
        use_seed_templates(app)
    seed_deploys(app, kind)
    blue_uids = {p.metadata.uid for p in seed_pods(app, "blue")}
    green_uids = {p.metadata.uid for p in seed_pods(app, "green")}
    blue_service = app.core.read_namespaced_service(f"{app.name}-blue", "default")
    blue_workload = workload(app, kind, f"{app.name}-blue")

    version = seed_pods_version(app, "blue")

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 0, result.stderr
    assert adoptions(result.stderr) == {
        f"adopting Service {app.name}-green": ("replace", "green"),
        f"adopting {kind} {app.name}-green": ("replace", "green"),
        f"adopting {kind} {app.name}-blue": ("label", "blue"),
    }
    assert app.instance_ports() == {app.green}
    # green is ours now: the seed's Service and pods replaced by the templates'
    green = app.core.read_namespaced_service(f"{app.name}-green", "default")
    assert green.metadata.labels["bluegreen.io/application"] == app.name
    assert green.spec.ports[0].node_port == app.green
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("green")} == {V1}
    assert len(app.pods("green")) == 2
    assert (
        workload(app, templates, f"{app.name}-green").metadata.labels["bluegreen.io/commit"] == V1
    )
    assert not green_uids & {p.metadata.uid for p in app.core.list_namespaced_pod("default").items}
    # blue kept serving: same pods, never deleted or changed; its Service untouched;
    # its workload only gained our labels
    assert seed_pod_events_since(app, "blue", version) == []
    assert {p.metadata.uid for p in seed_pods(app, "blue")} == blue_uids
    assert all(_ready(p) for p in seed_pods(app, "blue"))
    after = app.core.read_namespaced_service(f"{app.name}-blue", "default")
    assert after.metadata.resource_version == blue_service.metadata.resource_version
    labelled = workload(app, kind, f"{app.name}-blue")
    assert labelled.spec == blue_workload.spec
    assert labelled.metadata.labels == {
        "name": f"{app.name}-blue",
        "bluegreen.io/application": app.name,
        "bluegreen.io/color": "blue",
    }

    assert app.status() == {
        "application": app.name,
        "active": {"color": "green", "port": app.green, "commit": V1},
        "idle": {"color": "blue", "port": app.blue, "commit": None},
    }
    rollback = app.bluegreen("rollback")  # readiness sees the labelled seed workload
    assert rollback.returncode == 0, rollback.stderr
    assert app.instance_ports() == {app.blue}
    assert {p.metadata.uid for p in seed_pods(app, "blue")} == blue_uids


def test_the_second_deploy_replaces_the_seeds_other_color(app: App) -> None:
    use_seed_templates(app)
    seed_deploys(app, "ReplicationController")
    first = app.bluegreen("deploy", "--commit", V1)
    assert first.returncode == 0, first.stderr
    green_pods = {p.metadata.uid for p in app.pods("green")}

    second = app.bluegreen("deploy", "--commit", V2)

    assert second.returncode == 0, second.stderr
    assert adoptions(second.stderr) == {
        f"adopting Service {app.name}-blue": ("replace", "blue"),
    }
    assert app.instance_ports() == {app.blue}
    assert seed_pods(app, "blue") == []
    assert {p.metadata.labels["bluegreen.io/commit"] for p in app.pods("blue")} == {V2}
    blue = app.core.read_namespaced_service(f"{app.name}-blue", "default")
    assert blue.metadata.labels["bluegreen.io/color"] == "blue"
    assert {p.metadata.uid for p in app.pods("green")} == green_pods  # kept for rollback
    assert app.status()["idle"] == {"color": "green", "port": app.green, "commit": V1}


def test_render_names_what_the_first_deploy_adopts_and_touches_nothing(app: App) -> None:
    use_seed_templates(app)
    seed_deploys(app, "ReplicationController")
    before = {
        (s.metadata.name, s.metadata.resource_version)
        for s in app.core.list_namespaced_service("default").items
    }

    result = app.bluegreen("render", "--commit", V1)

    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("# a deploy adopts")]
    assert notes == [
        f"# a deploy adopts: replace Service {app.name}-green (green): idle color, left without "
        "our labels (nothing routes to it): deleted, then created from the templates",
        f"# a deploy adopts: replace ReplicationController {app.name}-green (green): idle "
        "color, left without our labels (its pods serve no traffic): deleted, then created "
        "from the templates",
        f"# a deploy adopts: label ReplicationController {app.name}-blue (blue): live color, "
        "left without our labels: labelled so status and rollback see it; its spec and pods "
        "stay as they are",
    ]
    assert f"nodePort: {app.green}" in result.stdout
    after = {
        (s.metadata.name, s.metadata.resource_version)
        for s in app.core.list_namespaced_service("default").items
    }
    assert after == before
    assert (
        "bluegreen.io/application"
        not in (
            app.core.read_namespaced_replication_controller(f"{app.name}-blue", "default")
        ).metadata.labels
    )


def test_an_idle_named_service_on_the_live_port_is_refused_and_left_alone(
    app: App, tmp_path: Path
) -> None:
    """A Service with the idle color's name that holds the live port carries live traffic:
    replacing it would cut it, so the deploy stops before touching anything."""
    name = f"{app.name}-green"
    app.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": name, "labels": {"name": name}},
            "spec": {
                "type": "NodePort",
                "selector": {"name": name},
                "ports": [{"port": 80, "nodePort": app.blue}],  # the live port
            },
        },
    )
    before = app.core.read_namespaced_service(name, "default")

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 1
    assert f"Service {name} has the idle color's name but holds the live port {app.blue}" in (
        result.stderr
    )
    assert app.instance_ports() == {app.blue}
    after = app.core.read_namespaced_service(name, "default")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert app.pods("green") == []


@pytest.mark.parametrize(
    "kill_after",
    [("DELETE", "/services/{app}-green"), ("PUT", "/replicationcontrollers/{app}-blue")],
    ids=["after replacing the idle Service", "after labelling the live workload"],
)
def test_a_first_deploy_killed_while_adopting_converges_when_rerun(
    app: App, kill_after: tuple[str, str]
) -> None:
    use_seed_templates(app)
    seed_deploys(app, "ReplicationController")
    blue_uids = {p.metadata.uid for p in seed_pods(app, "blue")}
    method, fragment = kill_after[0], kill_after[1].format(app=app.name)

    run_until_killed(
        app,
        "deploy",
        "--commit",
        V1,
        arm=lambda kill: app.sandbox.kube.faults.after(method, fragment, kill),
    )
    assert app.instance_ports() == {app.blue}
    rerun = app.bluegreen("deploy", "--commit", V1, env=FAST_LEASE)

    assert rerun.returncode == 0, rerun.stderr
    assert_converged(app, "green", V1)
    assert {p.metadata.uid for p in seed_pods(app, "blue")} == blue_uids
    labels = workload(app, "ReplicationController", f"{app.name}-blue").metadata.labels
    assert labels["bluegreen.io/color"] == "blue"


def test_an_object_of_another_application_with_our_name_is_left_alone(app: App) -> None:
    name = f"{app.name}-green"
    app.core.create_namespaced_service(
        "default",
        {
            "metadata": {"name": name, "labels": {"bluegreen.io/application": "another-app"}},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": app.green}]},
        },
    )
    before = app.core.read_namespaced_service(name, "default")

    result = app.bluegreen("deploy", "--commit", V1)

    assert result.returncode == 1
    assert f'services \\"{name}\\" already exists' in result.stderr
    assert "adopting" not in result.stderr
    after = app.core.read_namespaced_service(name, "default")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert app.instance_ports() == {app.blue}


def test_render_without_a_usable_cluster_still_prints_the_manifests(
    app: App, tmp_path: Path
) -> None:
    result = app.bluegreen(
        "render", "--commit", V1, env={"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    )

    assert result.returncode == 0, result.stderr
    assert f"nodePort: {app.green}" in result.stdout
    assert "# a deploy adopts" not in result.stdout
    (warning,) = [
        line
        for line in log_lines(result.stderr)
        if str(line.get("event", "")).startswith("what a deploy would adopt is unknown")
    ]
    assert "no-such-kubeconfig" in warning["event"]
