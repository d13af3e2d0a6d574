"""What the kubelet would report for a pod over time, failure modes included, with pod events.

A pod starts `ready_delay` seconds after it was created. How it goes on is its *mode*, chosen
when it starts: a rule set through `PodFailures` (`emulator.pods`), else the first marker found
in one of its container images, else healthy.

| image marker    | mode            | what the pod does                                          |
|-----------------|-----------------|------------------------------------------------------------|
| (none)          | `healthy`       | Running and Ready                                          |
| `broken_marker` | `never-ready`   | Running, Ready=False for good (a probe that never passes)  |
| `pull-fails`    | `pull-fails`    | Pending: `ErrImagePull`, then `ImagePullBackOff`, retried  |
| `crashloop`     | `crashloop`     | Running; the container exits 1 over and over:              |
|                 |                 | `CrashLoopBackOff`, growing `restartCount`, lastState      |
| `flapping`      | `flapping`      | Running; Ready True and False in turn                      |
| `turns-unready` | `turns-unready` | Running and Ready, then Ready=False for good               |

Every step of a failure mode also records core/v1 Events about the pod, as a kubelet does
(reasons Pulling, Failed, BackOff, Pulled, Created, Started, Unhealthy), aggregated the
kubelet's way: a repeat bumps `count` and `lastTimestamp`. Healthy pods record none.

Times scale with the unit `max(ready_delay, 0.05)`: a real kubelet's 10 s back-off is one
unit and doubles up to 30 units; flapping turns every 2 units; `turns-unready` stays Ready
for 2 units. A flapping pod stops after `MAX_FLAPS` turns (staying Ready), so a forgotten one
does not keep the controller busy.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .objects import NODE_IP, now_rfc3339, running_pod_status
from .pod_events import EventRecorder
from .selectors import LabelSelector, parse_label_selector
from .store import Store

Obj = dict[str, Any]

HEALTHY = "healthy"
NEVER_READY = "never-ready"
PULL_FAILS = "pull-fails"
CRASHLOOP = "crashloop"
FLAPPING = "flapping"
TURNS_UNREADY = "turns-unready"
MODES = (HEALTHY, NEVER_READY, PULL_FAILS, CRASHLOOP, FLAPPING, TURNS_UNREADY)
# Image markers in the order they are looked for (the broken marker is configurable).
IMAGE_MARKERS = (PULL_FAILS, CRASHLOOP, FLAPPING, TURNS_UNREADY)

MIN_UNIT = 0.05
MAX_BACKOFF_UNITS = 30  # a kubelet's back-off: 10 s doubling up to 300 s
MAX_FLAPS = 100
EXIT_CODE = 1

OnReady = Callable[[Obj], None]


@dataclass
class _Script:
    """Where one pod is in its mode: the next step and when it is due."""

    mode: str
    due: float
    step: str
    tries: int = 0  # image pulls, container starts or readiness turns so far


@dataclass
class _Rule:
    mode: str
    namespace: str
    selector: LabelSelector
    limit: int | None
    claimed: set[str] = field(default_factory=set)


class Kubelet:
    """Starts pending pods and plays each one's mode; called by the controller with the store's
    lock held. Returns, for each pod, when it next needs a visit."""

    def __init__(
        self, store: Store, broken_marker: str, on_ready: OnReady, *, host_ip: str = NODE_IP
    ) -> None:
        self.store = store
        self.host_ip = host_ip  # the node's InternalIP, each started pod's hostIP
        self.broken_marker = broken_marker
        self._on_ready = on_ready
        self._scripts: dict[str, _Script] = {}  # pod uid -> script
        self._rules: list[_Rule] = []
        self._overrides: dict[str, str] = {}  # pod uid -> mode set for that very pod
        self.events = EventRecorder(store)

    # ------------------------------------------------------------------ control

    def add_rule(self, mode: str, namespace: str, selector: str, limit: int | None) -> None:
        self._rules.append(_Rule(mode, namespace, parse_label_selector(selector), limit))

    def set_mode(self, pod: Obj, mode: str, now: float) -> None:
        """Switch a pod to `mode`: at its start if it has not started, else at once."""
        uid = pod["metadata"]["uid"]
        self._overrides[uid] = mode
        script = self._scripts.get(uid)
        if script is None:
            return
        if mode == PULL_FAILS and script.mode != PULL_FAILS:
            raise ValueError(f"pod {pod['metadata']['name']} has already pulled its image")
        script.mode, script.due, script.tries = mode, now, 0
        script.step = "pull" if mode == PULL_FAILS else _AT_ONCE_STEP[mode]

    def clear_rules(self) -> None:
        self._rules.clear()

    # ------------------------------------------------------------------ the controller's hook

    def sync(self, pod: Obj, now: float, ready_delay: float, ips: Iterator[str]) -> float | None:
        """Move `pod` along if a step is due; returns when it next needs a visit, if ever."""
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return None
        uid = meta["uid"]
        script = self._scripts.get(uid)
        if script is None:
            if (pod.get("status") or {}).get("phase") != "Pending":
                return None
            born = self.store.born(uid)
            due = (now if born is None else born) + ready_delay
            if due > now:
                return due
            mode = self._mode_of(pod)
            script = self._scripts[uid] = _Script(mode, now, "start")
            self._start(pod, script, next(ips), ready_delay)
        elif script.due <= now:
            self._advance(pod, script, _unit(ready_delay))
        return script.due if script.due != _NEVER else None

    def forget_missing(self, uids: set[str]) -> None:
        """Drop what is kept about pods that no longer exist."""
        gone = (set(self._scripts) | set(self._overrides)) - uids
        if not gone:
            return
        for uid in gone:
            self._scripts.pop(uid, None)
            self._overrides.pop(uid, None)
        self.events.forget(gone)

    # ------------------------------------------------------------------ modes

    def _mode_of(self, pod: Obj) -> str:
        meta = pod["metadata"]
        if meta["uid"] in self._overrides:
            return self._overrides[meta["uid"]]
        for rule in self._rules:
            if (
                rule.namespace == meta.get("namespace")
                and rule.selector.matches(meta.get("labels"))
                and (rule.limit is None or len(rule.claimed) < rule.limit)
            ):
                rule.claimed.add(meta["uid"])
                return rule.mode
        images = [str(c.get("image", "")) for c in pod["spec"].get("containers") or []]
        for marker in IMAGE_MARKERS:
            if any(marker in image for image in images):
                return marker
        if self.broken_marker and any(self.broken_marker in image for image in images):
            return NEVER_READY
        return HEALTHY

    def _start(self, pod: Obj, script: _Script, ip: str, ready_delay: float) -> None:
        unit = _unit(ready_delay)
        mode = script.mode
        ready = mode in (HEALTHY, FLAPPING, TURNS_UNREADY)
        status = running_pod_status(pod, ip, ready=ready, host_ip=self.host_ip)
        if mode == PULL_FAILS:
            self._step_pull(pod, script, unit, base=status)
            return
        stored = self._put_status(pod, status)
        if mode != HEALTHY:
            for container in _containers(pod):
                self._container_started(stored, container)
        if ready:
            self._on_ready(stored)
        if mode == NEVER_READY:
            self._probe_failed(stored, "HTTP probe failed with statuscode: 503")
        script.step = _START_STEP[mode]
        script.due = time.monotonic() + unit * _START_UNITS[mode]

    def _advance(self, pod: Obj, script: _Script, unit: float) -> None:
        step = getattr(self, f"_step_{script.step.replace('-', '_')}")
        step(pod, script, unit)

    # pull-fails: pull -> ErrImagePull -> (1 unit) ImagePullBackOff -> (back-off) pull ...

    def _step_pull(self, pod: Obj, script: _Script, unit: float, base: Obj | None = None) -> None:
        script.tries += 1
        statuses = []
        for container in _containers(pod):
            image = str(container.get("image", ""))
            self._event(pod, container, "Normal", "Pulling", f'Pulling image "{image}"')
            error = _pull_error(image)
            self._event(
                pod, container, "Warning", "Failed", f'Failed to pull image "{image}": {error}'
            )
            self._event(pod, container, "Warning", "Failed", "Error: ErrImagePull")
            statuses.append(_waiting(container, "ErrImagePull", error))
        self._put_waiting(pod, statuses, phase="Pending", base=base)
        script.step, script.due = "backoff-pull", time.monotonic() + unit

    def _step_backoff_pull(self, pod: Obj, script: _Script, unit: float) -> None:
        statuses = []
        for container in _containers(pod):
            image = str(container.get("image", ""))
            message = f'Back-off pulling image "{image}"'
            self._event(pod, container, "Normal", "BackOff", message)
            self._event(pod, container, "Warning", "Failed", "Error: ImagePullBackOff")
            statuses.append(_waiting(container, "ImagePullBackOff", message))
        self._put_waiting(pod, statuses, phase="Pending")
        script.step, script.due = "pull", time.monotonic() + _backoff(unit, script.tries)

    # crashloop: running -> exit 1 -> restart at once the first time, later after a back-off

    def _step_crash(self, pod: Obj, script: _Script, unit: float) -> None:
        script.tries += 1
        now = now_rfc3339()
        statuses = []
        for container, old in zip(_containers(pod), _container_statuses(pod), strict=False):
            terminated = {
                "exitCode": EXIT_CODE,
                "reason": "Error",
                "startedAt": ((old.get("state") or {}).get("running") or {}).get("startedAt", now),
                "finishedAt": now,
                "containerID": old.get("containerID"),
            }
            if script.tries == 1:  # the first exit is restarted at once
                statuses.append(_running(old, container, restarts=1, last=terminated))
                continue
            backoff = _backoff_seconds(script.tries - 1)
            ref = _pod_ref(pod)
            self._event(
                pod,
                container,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {container['name']} in pod {ref}",
            )
            statuses.append(
                {
                    **old,
                    "ready": False,
                    "started": False,
                    "state": {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off {backoff} restarting failed "
                            f"container={container['name']} pod={ref}",
                        }
                    },
                    "lastState": {"terminated": terminated},
                }
            )
        if script.tries == 1:
            stored = self._put_statuses(pod, statuses, ready=False)
            for container in _containers(pod):
                self._container_started(stored, container)
            script.step, script.due = "crash", time.monotonic() + unit
        else:
            self._put_statuses(pod, statuses, ready=False)
            script.step = "restart"
            script.due = time.monotonic() + _backoff(unit, script.tries - 1)

    def _step_restart(self, pod: Obj, script: _Script, unit: float) -> None:
        statuses = [
            _running(old, container, restarts=int(old.get("restartCount", 0)) + 1)
            for container, old in zip(_containers(pod), _container_statuses(pod), strict=False)
        ]
        stored = self._put_statuses(pod, statuses, ready=False)
        for container in _containers(pod):
            self._container_started(stored, container)
        script.step, script.due = "crash", time.monotonic() + unit

    # flapping: Ready for 2 units, unready for 2 units, ... (MAX_FLAPS turns, then Ready)

    def _step_flap(self, pod: Obj, script: _Script, unit: float) -> None:
        script.tries += 1
        ready = script.tries % 2 == 0 or script.tries >= MAX_FLAPS
        stored = self._set_ready(pod, ready)
        if not ready:
            self._probe_failed(stored, "HTTP probe failed with statuscode: 503")
        script.due = _NEVER if script.tries >= MAX_FLAPS else time.monotonic() + 2 * unit

    # turns-unready: Ready for 2 units, then Ready=False for good

    def _step_turn_unready(self, pod: Obj, script: _Script, unit: float) -> None:
        stored = self._set_ready(pod, False)
        self._probe_failed(stored, _refused(pod))
        script.step, script.due = "idle", _NEVER

    def _step_idle(self, pod: Obj, script: _Script, unit: float) -> None:
        script.due = _NEVER

    # healthy (after `heal`): Ready, whatever state the pod was in

    def _step_recover(self, pod: Obj, script: _Script, unit: float) -> None:
        status = pod.get("status") or {}
        statuses = [
            {
                **(
                    _running(old, container, restarts=int(old.get("restartCount", 0)))
                    if "running" not in (old.get("state") or {})
                    else old
                ),
                "ready": True,
                "started": True,
            }
            for container, old in zip(_containers(pod), _container_statuses(pod), strict=False)
        ]
        stored = self._put_statuses(pod, statuses, ready=True)
        if status.get("phase") == "Pending":  # the image could be pulled at last
            for container in _containers(pod):
                pulled = f'Successfully pulled image "{container.get("image", "")}" in 1.2s'
                self._container_started(stored, container, pulled=pulled)
        if not _was_ready(pod):
            self._on_ready(stored)
        script.step, script.due = "idle", _NEVER

    # ------------------------------------------------------------------ writing status

    def _current(self, pod: Obj) -> Obj:
        meta = pod["metadata"]
        return self.store.snapshot("pods", meta["namespace"], meta["name"]) or pod

    def _put_status(self, pod: Obj, status: Obj) -> Obj:
        current = self._current(pod)
        return self.store.put("pods", {**current, "status": status})

    def _put_waiting(
        self, pod: Obj, statuses: list[Obj], phase: str, base: Obj | None = None
    ) -> Obj:
        current = self._current(pod)
        status = {**(base or current["status"]), "phase": phase, "containerStatuses": statuses}
        return self._put_status(current, status)

    def _put_statuses(self, pod: Obj, statuses: list[Obj], ready: bool) -> Obj:
        current = self._current(pod)
        status = {
            **current["status"],
            "phase": "Running",
            "containerStatuses": statuses,
            "conditions": _conditions(current, ready),
        }
        return self._put_status(current, status)

    def _set_ready(self, pod: Obj, ready: bool) -> Obj:
        current = self._current(pod)
        statuses = [{**c, "ready": ready} for c in _container_statuses(current)]
        stored = self._put_statuses(current, statuses, ready=ready)
        if ready:
            self._on_ready(stored)
        return stored

    # ------------------------------------------------------------------ events

    def _container_started(self, pod: Obj, container: Obj, pulled: str = "") -> None:
        name, image = container["name"], container.get("image", "")
        pulled = pulled or f'Container image "{image}" already present on machine'
        self._event(pod, container, "Normal", "Pulled", pulled)
        self._event(pod, container, "Normal", "Created", f"Created container: {name}")
        self._event(pod, container, "Normal", "Started", f"Started container {name}")

    def _probe_failed(self, pod: Obj, why: str) -> None:
        for container in _containers(pod):
            self._event(pod, container, "Warning", "Unhealthy", f"Readiness probe failed: {why}")

    def _event(self, pod: Obj, container: Obj, kind: str, reason: str, message: str) -> None:
        self.events.record(pod, f"spec.containers{{{container['name']}}}", kind, reason, message)


class PodFailures:
    """Pod failure modes on demand (`emulator.pods`), beside the image markers.

    >>> emulator.pods.fail("crashloop", selector="app=web")        # pods that start from now on
    >>> emulator.pods.fail("turns-unready", pod="web-x7k2p")       # this pod, at once
    >>> emulator.pods.heal(selector="app=web")                      # Ready again, rules dropped
    """

    def __init__(self, store: Store, kubelet: Kubelet, kick: Callable[[], None]) -> None:
        self._store = store
        self._kubelet = kubelet
        self._kick = kick
        self._lock = threading.Lock()

    def fail(
        self,
        mode: str,
        *,
        namespace: str = "default",
        selector: str | None = None,
        pod: str | None = None,
        limit: int | None = None,
    ) -> None:
        """Give pods a mode: the pod named `pod` at once (or at its start), or the pods matching
        `selector` that start from now on (at most `limit` of them)."""
        if mode not in MODES:
            raise ValueError(f"unknown pod mode {mode!r}; one of {', '.join(MODES)}")
        if (selector is None) == (pod is None):
            raise ValueError("name a pod or a selector")
        with self._store.cond:
            now = time.monotonic()
            if pod is not None:
                found = self._store.snapshot("pods", namespace, pod)
                if found is None:
                    raise ValueError(f"no pod {namespace}/{pod}")
                self._kubelet.set_mode(found, mode, now)
            else:
                assert selector is not None
                self._kubelet.add_rule(mode, namespace, selector, limit)
            self._kick()

    def heal(
        self, *, namespace: str = "default", selector: str = "", pod: str | None = None
    ) -> None:
        """Drop every rule and make the named pod (or the matching ones) start or turn Ready."""
        with self._store.cond:
            self._kubelet.clear_rules()
            now = time.monotonic()
            wanted = parse_label_selector(selector)
            for found in self._store.snapshots("pods", namespace):
                if (pod is None and wanted.matches(found["metadata"].get("labels"))) or (
                    found["metadata"]["name"] == pod
                ):
                    self._kubelet.set_mode(found, HEALTHY, now)
            self._kick()


# ---------------------------------------------------------------- helpers

_NEVER = float("inf")
# A mode's first step after the pod starts, and how many units later it is due.
_START_STEP = {
    HEALTHY: "idle",
    NEVER_READY: "idle",
    CRASHLOOP: "crash",
    FLAPPING: "flap",
    TURNS_UNREADY: "turn-unready",
}
_START_UNITS = {HEALTHY: _NEVER, NEVER_READY: _NEVER, CRASHLOOP: 1, FLAPPING: 2, TURNS_UNREADY: 2}
# The step that puts an already started pod into a mode at once.
_AT_ONCE_STEP = {
    HEALTHY: "recover",
    NEVER_READY: "turn-unready",
    CRASHLOOP: "crash",
    FLAPPING: "flap",
    TURNS_UNREADY: "turn-unready",
}


def _unit(ready_delay: float) -> float:
    return max(ready_delay, MIN_UNIT)


def _backoff(unit: float, tries: int) -> float:
    return unit * min(MAX_BACKOFF_UNITS, 1 << max(0, tries - 1))


def _backoff_seconds(tries: int) -> str:
    """The back-off a real kubelet would name: 10s, 20s, 40s, ... 5m0s."""
    seconds = 10 * min(MAX_BACKOFF_UNITS, 1 << max(0, tries - 1))
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def _containers(pod: Obj) -> list[Obj]:
    return list(pod["spec"].get("containers") or [])


def _container_statuses(pod: Obj) -> list[Obj]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _pod_ref(pod: Obj) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def _pull_error(image: str) -> str:
    name = image if "/" in image.split(":")[0] else f"library/{image}"
    ref = f"docker.io/{name}"
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref}": '
        f'failed to resolve reference "{ref}": {ref}: not found'
    )


def _waiting(container: Obj, reason: str, message: str) -> Obj:
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}},
        "lastState": {},
    }


def _running(old: Obj, container: Obj, restarts: int, last: Obj | None = None) -> Obj:
    image = str(container.get("image", ""))
    return {
        **old,
        "name": container["name"],
        "image": image,
        "imageID": f"sandbox.local/{image}@sha256:" + hashlib.sha256(image.encode()).hexdigest(),
        "containerID": "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex,
        "ready": False,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": now_rfc3339()}},
        "lastState": {"terminated": last} if last else old.get("lastState") or {},
    }


def _conditions(pod: Obj, ready: bool) -> list[Obj]:
    """The pod's conditions with Ready and ContainersReady set to `ready`."""
    now = now_rfc3339()
    names = " ".join(c["name"] for c in _containers(pod))
    flag = "True" if ready else "False"
    updated = []
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Ready", "ContainersReady"):
            changed = condition.get("status") != flag
            condition = {
                "type": condition["type"],
                "status": flag,
                "lastProbeTime": None,
                "lastTransitionTime": now if changed else condition.get("lastTransitionTime"),
            }
            if not ready:
                condition["reason"] = "ContainersNotReady"
                condition["message"] = f"containers with unready status: [{names}]"
        updated.append(condition)
    return updated


def _was_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _refused(pod: Obj) -> str:
    """A readiness probe's failure against the pod's own probe address, when it has one."""
    ip = (pod.get("status") or {}).get("podIP") or NODE_IP
    for container in _containers(pod):
        probe = (container.get("readinessProbe") or {}).get("httpGet") or {}
        if probe:
            port, path = probe.get("port", 80), probe.get("path", "/")
            return (
                f'Get "http://{ip}:{port}{path}": dial tcp {ip}:{port}: connect: connection refused'
            )
    return "HTTP probe failed with statuscode: 503"
