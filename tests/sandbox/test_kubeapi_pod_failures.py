"""Pod failure modes on demand (image markers and `emulator.pods`), read back with the client."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from bluegreen_hooks.sandbox.kubeapi import KubeEmulator

from .kube_helpers import deployment_body, is_ready, new_watch, pod_body, wait_for


def _pod(core: Any, name: str, condition: Any, timeout: float = 5.0) -> Any:
    pods = wait_for(
        core.list_namespaced_pod,
        "default",
        field_selector=f"metadata.name={name}",
        condition=lambda found: name in found and condition(found[name]),
        timeout=timeout,
    )
    return pods[name]


def _waiting_reason(pod: Any) -> str | None:
    statuses = pod.status.container_statuses or []
    waiting = statuses[0].state.waiting if statuses else None
    return waiting.reason if waiting else None


def _events(core: Any, pod: str, **selector: str) -> list[Any]:
    fields = ",".join([f"involvedObject.name={pod}", *(f"{k}={v}" for k, v in selector.items())])
    return list(core.list_namespaced_event("default", field_selector=fields).items)


def _messages(events: list[Any]) -> set[tuple[str, str, str]]:
    return {(e.type, e.reason, e.message) for e in events}


def _create_and_watch(core: Any, image: str) -> Any:
    """Pod `web` created with `image`, and a watch of it from then on (5 s at most)."""
    core.create_namespaced_pod("default", pod_body("web", image=image))
    listing = core.list_namespaced_pod("default", field_selector="metadata.name=web")
    return new_watch().stream(
        core.list_namespaced_pod,
        "default",
        field_selector="metadata.name=web",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=5,
    )


def test_pull_fails_shows_err_image_pull_then_image_pull_back_off(core: Any) -> None:
    image = "registry.example/web:pull-fails-v1"
    core.create_namespaced_pod("default", pod_body("web", image=image))

    pulling = _pod(core, "web", lambda p: _waiting_reason(p) == "ErrImagePull")
    backing_off = _pod(core, "web", lambda p: _waiting_reason(p) == "ImagePullBackOff")

    assert pulling.status.phase == "Pending"
    waiting = pulling.status.container_statuses[0].state.waiting
    assert waiting.message.startswith("rpc error: code = NotFound desc = failed to pull")
    assert "registry.example/web:pull-fails-v1" in waiting.message
    assert backing_off.status.phase == "Pending"
    assert backing_off.status.container_statuses[0].state.waiting.message == (
        f'Back-off pulling image "{image}"'
    )
    assert backing_off.status.container_statuses[0].ready is False
    assert not is_ready(backing_off)
    assert backing_off.status.pod_ip  # the sandbox exists; only the image is missing
    events = _events(core, "web")
    assert {
        ("Normal", "Pulling", f'Pulling image "{image}"'),
        ("Warning", "Failed", "Error: ErrImagePull"),
        ("Normal", "BackOff", f'Back-off pulling image "{image}"'),
        ("Warning", "Failed", "Error: ImagePullBackOff"),
    } <= _messages(events)
    for event in events:
        assert event.involved_object.kind == "Pod"
        assert event.involved_object.uid == backing_off.metadata.uid
        assert event.involved_object.field_path == "spec.containers{app}"
        assert event.source.component == "kubelet"


def test_pull_fails_retries_with_aggregated_events(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", image="web:pull-fails"))

    def pulled_three_times(events: dict[str, Any]) -> bool:
        return any(e.reason == "Pulling" and (e.count or 0) >= 3 for e in events.values())

    events = wait_for(
        core.list_namespaced_event,
        "default",
        field_selector="involvedObject.name=web,reason=Pulling",
        condition=pulled_three_times,
    )
    (pulling,) = events.values()  # one Event, counted, as a kubelet aggregates repeats
    assert pulling.first_timestamp <= pulling.last_timestamp
    assert core.read_namespaced_pod("web", "default").status.phase == "Pending"


def test_crashloop_grows_restart_count_with_last_state_terminated(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", image="web:crashloop"))

    pod = _pod(
        core,
        "web",
        lambda p: (
            _waiting_reason(p) == "CrashLoopBackOff"
            and p.status.container_statuses[0].restart_count >= 3
        ),
    )

    container = pod.status.container_statuses[0]
    assert pod.status.phase == "Running"
    assert not is_ready(pod) and container.ready is False
    assert container.state.waiting.message.startswith("back-off ")
    assert f"restarting failed container=app pod=web_default({pod.metadata.uid})" in (
        container.state.waiting.message
    )
    terminated = container.last_state.terminated
    assert (terminated.exit_code, terminated.reason) == (1, "Error")
    assert terminated.started_at <= terminated.finished_at
    backoffs = _events(core, "web", reason="BackOff")
    assert len(backoffs) == 1 and backoffs[0].type == "Warning"
    assert backoffs[0].message == (
        f"Back-off restarting failed container app in pod web_default({pod.metadata.uid})"
    )
    assert backoffs[0].count >= 2
    started = _events(core, "web", reason="Started")
    assert started[0].count >= container.restart_count + 1  # the first start, then each restart


def test_crashloop_restart_counts_only_grow(core: Any) -> None:
    stream = _create_and_watch(core, "web:crashloop")
    counts: list[int] = []
    for event in stream:
        statuses = event["object"].status.container_statuses or []
        if statuses:
            counts.append(statuses[0].restart_count)
        if counts and counts[-1] >= 4:
            stream.close()
    assert counts[-1] >= 4
    assert counts == sorted(counts)


def test_flapping_readiness_alternates_with_unhealthy_events(core: Any) -> None:
    stream = _create_and_watch(core, "web:flapping")
    seen: list[bool] = []
    for event in stream:
        pod = event["object"]
        if pod.status.phase == "Running" and (not seen or seen[-1] != is_ready(pod)):
            seen.append(is_ready(pod))
        if len(seen) >= 4:
            stream.close()
    assert seen[:4] == [True, False, True, False]
    (unhealthy,) = _events(core, "web", reason="Unhealthy")
    assert unhealthy.type == "Warning"
    assert unhealthy.message == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy.count >= 2


def test_turns_unready_after_being_ready(emulator: KubeEmulator, core: Any) -> None:
    body = pod_body("web", image="web:turns-unready")
    body["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/healthcheck", "port": 8080}
    }
    core.create_namespaced_pod("default", body)

    _pod(core, "web", is_ready)
    pod = _pod(core, "web", lambda p: p.status.phase == "Running" and not is_ready(p))

    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == (
        "ContainersNotReady",
        "containers with unready status: [app]",
    )
    assert pod.status.container_statuses[0].state.running is not None
    (unhealthy,) = _events(core, "web", reason="Unhealthy")
    ip = pod.status.pod_ip
    assert unhealthy.message == (
        f'Readiness probe failed: Get "http://{ip}:8080/healthcheck": dial tcp {ip}:8080: '
        "connect: connection refused"
    )
    assert [e.name for e in emulator.ready_events] == ["web"]


def test_broken_marker_still_never_ready_and_says_why(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", image="web:broken-v2"))

    pod = _pod(core, "web", lambda p: p.status.phase == "Running")

    assert not is_ready(pod)
    assert (
        "Warning",
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ) in (_messages(_events(core, "web")))


def test_healthy_pods_record_no_events(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web"))
    _pod(core, "web", is_ready)
    assert _events(core, "web") == []


def test_a_rule_fails_pods_that_start_later_up_to_its_limit(
    emulator: KubeEmulator, apps: Any, core: Any
) -> None:
    emulator.pods.fail("crashloop", selector="app=web", limit=1)
    apps.create_namespaced_deployment("default", deployment_body("web", {"app": "web"}, 2))

    pods = wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda found: (
            len(found) == 2
            and sorted(_waiting_reason(p) or str(is_ready(p)) for p in found.values())
            == ["CrashLoopBackOff", "True"]
        ),
    )
    assert len(pods) == 2
    deployment = apps.read_namespaced_deployment("web", "default")
    assert deployment.status.ready_replicas == 1


def test_a_named_running_pod_turns_unready_at_once_and_heals(
    emulator: KubeEmulator, core: Any
) -> None:
    core.create_namespaced_pod("default", pod_body("web", {"app": "web"}))
    _pod(core, "web", is_ready)

    emulator.pods.fail("turns-unready", pod="web")
    _pod(core, "web", lambda p: not is_ready(p))
    emulator.pods.heal(pod="web")

    assert is_ready(_pod(core, "web", is_ready))


def test_heal_ends_an_image_pull_back_off(emulator: KubeEmulator, core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", {"app": "web"}, image="web:1"))
    emulator.pods.fail("pull-fails", pod="web")  # before it starts: at its start
    _pod(core, "web", lambda p: _waiting_reason(p) == "ImagePullBackOff")

    emulator.pods.heal(selector="app=web")

    pod = _pod(core, "web", is_ready)
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].state.running is not None
    assert pod.status.container_statuses[0].ready is True
    pulled = _events(core, "web", reason="Pulled")
    assert pulled[0].message.startswith('Successfully pulled image "web:1"')


def test_pods_control_refuses_what_it_cannot_do(emulator: KubeEmulator, core: Any) -> None:
    with pytest.raises(ValueError, match="unknown pod mode 'melting'"):
        emulator.pods.fail("melting", selector="app=web")
    with pytest.raises(ValueError, match="name a pod or a selector"):
        emulator.pods.fail("crashloop")
    with pytest.raises(ValueError, match="no pod default/ghost"):
        emulator.pods.fail("crashloop", pod="ghost")
    core.create_namespaced_pod("default", pod_body("web"))
    _pod(core, "web", is_ready)
    with pytest.raises(ValueError, match="already pulled its image"):
        emulator.pods.fail("pull-fails", pod="web")


def test_events_are_served_like_a_cluster_s(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", image="web:crashloop"))
    _pod(core, "web", lambda p: _waiting_reason(p) == "CrashLoopBackOff")

    warnings = core.list_namespaced_event("default", field_selector="type=Warning").items
    everything = core.list_event_for_all_namespaces().items

    assert {e.reason for e in warnings} == {"BackOff"}
    assert {e.reason for e in everything} >= {"BackOff", "Pulled", "Created", "Started"}
    with pytest.raises(client.ApiException) as refused:
        core.list_namespaced_event("default", field_selector="spec.nope=1")
    assert refused.value.status == 400


def test_events_can_be_watched_and_repeats_arrive_as_modified(core: Any) -> None:
    listing = core.list_namespaced_event("default")
    core.create_namespaced_pod("default", pod_body("web", image="web:pull-fails"))
    seen: list[tuple[str, str, int]] = []
    stream = new_watch().stream(
        core.list_namespaced_event,
        "default",
        field_selector="involvedObject.name=web,reason=Pulling",
        resource_version=listing.metadata.resource_version,
        timeout_seconds=5,
    )
    for event in stream:
        seen.append((event["type"], event["object"].reason, event["object"].count))
        if len(seen) >= 2:
            stream.close()

    assert seen[:2] == [("ADDED", "Pulling", 1), ("MODIFIED", "Pulling", 2)]


def test_a_failing_pod_deleted_and_made_again_starts_afresh(core: Any) -> None:
    core.create_namespaced_pod("default", pod_body("web", image="web:crashloop"))
    _pod(
        core,
        "web",
        lambda p: (
            (p.status.container_statuses or [None])[0] is not None
            and p.status.container_statuses[0].restart_count >= 2
        ),
    )
    core.delete_namespaced_pod("web", "default")
    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: "web" not in pods)

    core.create_namespaced_pod("default", pod_body("web", image="web:1"))

    pod = _pod(core, "web", is_ready)
    assert pod.status.container_statuses[0].restart_count == 0


def test_deleting_a_crash_looping_deployment_removes_its_pods(apps: Any, core: Any) -> None:
    apps.create_namespaced_deployment(
        "default", deployment_body("web", {"app": "web"}, 2, image="web:crashloop")
    )
    wait_for(
        core.list_namespaced_pod,
        "default",
        condition=lambda pods: (
            len(pods) == 2 and all(_waiting_reason(p) == "CrashLoopBackOff" for p in pods.values())
        ),
    )

    apps.delete_namespaced_deployment("web", "default")

    wait_for(core.list_namespaced_pod, "default", condition=lambda pods: not pods)
    assert core.list_namespaced_event("default", field_selector="reason=BackOff").items
