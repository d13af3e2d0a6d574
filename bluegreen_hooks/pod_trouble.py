"""Why a pod is not Ready, read from its status the way `kubectl get pods` shows it. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Object = dict[str, Any]

# Waiting reasons of a container whose image cannot be had: retried, but rarely by itself.
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
CRASH_LOOP = "CrashLoopBackOff"
NOT_READY = "NotReady"  # Running, but its readiness probe does not pass
_RANK = {"image": 50, "config": 45, "crash": 40, "waiting": 30, NOT_READY: 20, "pending": 10}
_CONFIG_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)


@dataclass(frozen=True)
class PodTrouble:
    """What keeps one pod from being Ready; `rank` orders troubles, worst first."""

    pod: str
    uid: str
    reason: str
    message: str
    restarts: int = 0
    rank: int = 0

    @property
    def image_pull(self) -> bool:
        return self.reason in IMAGE_PULL_REASONS

    def describe(self, detail: str = "") -> str:
        """`pod x: ImagePullBackOff: Back-off pulling image "..."`, `pod y: CrashLoopBackOff
        (restarts 5): back-off 40s ...`; `detail` (e.g. the last warning event) stands in for
        a missing message."""
        head = f"pod {self.pod}: {self.reason}"
        if self.restarts:
            head += f" (restarts {self.restarts})"
        message = self.message or detail
        return f"{head}: {message}" if message else head


def pod_trouble(pod: Object) -> PodTrouble | None:
    """The pod's worst trouble, or None when it is Ready."""
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    if is_ready(pod):
        return None
    name, uid = str(meta.get("name", "?")), str(meta.get("uid", ""))
    containers = [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]
    restarts = max((int(c.get("restartCount") or 0) for c in containers), default=0)
    found: list[PodTrouble] = []
    for container in containers:
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        last = (container.get("lastState") or {}).get("terminated") or {}
        reason = waiting.get("reason") or ""
        if reason in IMAGE_PULL_REASONS:
            found.append(
                PodTrouble(name, uid, reason, waiting.get("message", ""), restarts, _RANK["image"])
            )
        elif reason in _CONFIG_REASONS:
            found.append(
                PodTrouble(name, uid, reason, waiting.get("message", ""), restarts, _RANK["config"])
            )
        elif reason == CRASH_LOOP or terminated or (last and restarts):
            message = "; ".join(
                part for part in (_exit(terminated or last), _backoff(waiting)) if part
            )
            if not reason and (last or terminated).get("exitCode") not in (None, 0) and restarts:
                reason = CRASH_LOOP  # between two restarts of a container that keeps exiting
            elif not reason:
                reason = (terminated.get("reason") or "Error") if terminated else NOT_READY
            rank = _RANK["crash"] + min(restarts, 9)
            found.append(PodTrouble(name, uid, reason, message, restarts, rank))
        elif reason and reason != "ContainerCreating":
            found.append(
                PodTrouble(
                    name, uid, reason, waiting.get("message", ""), restarts, _RANK["waiting"]
                )
            )
    if found:
        return max(found, key=lambda t: t.rank)
    if status.get("phase") == "Running":
        return PodTrouble(name, uid, NOT_READY, "", restarts, _RANK[NOT_READY])
    scheduled = _condition(status, "PodScheduled")
    if scheduled.get("status") == "False":
        return PodTrouble(
            name,
            uid,
            scheduled.get("reason") or "Unschedulable",
            scheduled.get("message", ""),
            0,
            _RANK["pending"],
        )
    return PodTrouble(
        name, uid, str(status.get("phase") or "Pending"), "", restarts, _RANK["pending"]
    )


def is_ready(pod: Object) -> bool:
    return _condition(pod.get("status") or {}, "Ready").get("status") == "True"


def _condition(status: Object, kind: str) -> Object:
    for condition in status.get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _exit(terminated: Object) -> str:
    if not terminated:
        return ""
    code = terminated.get("exitCode")
    why = terminated.get("reason") or ""
    return f"last exit code {code}" + (f" ({why})" if why else "")


def _backoff(waiting: Object) -> str:
    """`back-off 40s` out of the kubelet's `back-off 40s restarting failed container=...`."""
    message = str(waiting.get("message") or "")
    if message.startswith("back-off "):
        return " ".join(message.split()[:2])
    return message
