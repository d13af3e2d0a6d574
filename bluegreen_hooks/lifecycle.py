"""The deploy, step by step: preflight, plan, release to the idle color, switch, validate.

Each step is safe to repeat: it reads where things stand and does only what is missing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bluegreen_hooks import logs, signals
from bluegreen_hooks.colors import COLORS, Color, Ports
from bluegreen_hooks.config import Config
from bluegreen_hooks.errors import (
    BluegreenError,
    DeployFailed,
    GateFailed,
    InconsistentState,
    Interrupted,
    LockHeld,
    ValidationFailed,
)
from bluegreen_hooks.plan import Plan, make_plan, render
from bluegreen_hooks.release import resolve_commit
from bluegreen_hooks.routers import make_router
from bluegreen_hooks.routers.base import Accept, Router, RouterState

if TYPE_CHECKING:
    from bluegreen_hooks.adoption import Adoption
    from bluegreen_hooks.kube import Cluster
    from bluegreen_hooks.readiness import Readiness
    from bluegreen_hooks.readiness_probe import ClusterReadiness, ReadinessProbe

PLAN_PREFIX = "bluegreen-plan-"
PAUSE_LOOK_SECONDS = 2.0  # between two looks at the router while a stepped shift pauses


@dataclass
class Run:
    """One deploy (or hook) run: its config, identity and connections."""

    config: Config
    deployment_id: str
    bundle_root: Path | None = None
    commit: str | None = None
    steps: tuple[int, ...] = ()  # percent of traffic on the new color after each step
    pause: float = 0.0  # seconds between two steps
    lb: Router = field(init=False)

    def __post_init__(self) -> None:
        self.lb = make_router(self.config)

    @cached_property
    def cluster(self) -> Cluster:
        from bluegreen_hooks.kube import Cluster, connect

        return Cluster(connect(), self.config.namespace)

    def router(self, accept: Accept = "consistent") -> RouterState:
        return self.lb.read(accept=accept)

    def point_at(self, router: RouterState, target: Color, step: str) -> list[int]:
        return self.lb.point_at(router, target, by=self.deployment_id, step=step)

    def step(self, name: str) -> None:
        logs.bind(step=name)


def plan_path(bundle_root: Path, deployment_id: str) -> Path:
    """Plans live beside the bundle (the agent keeps it as long as the deployment needs it)."""
    return bundle_root.parent / f"{PLAN_PREFIX}{deployment_id}.json"


def bind_plan(plan: Plan) -> None:
    logs.bind(
        application=plan.application,
        deployment_id=plan.deployment_id,
        old_color=plan.old_color,
        new_color=plan.color,
        commit=plan.commit,
    )


# --- BeforeInstall ------------------------------------------------------------


def preflight(run: Run, router: RouterState | None = None) -> RouterState:
    """The router is consistent (unless just read), the API answers, the namespace exists."""
    run.step("preflight")
    router = router or run.router()
    run.cluster.check_namespace()
    return router


def prepare(run: Run, router: RouterState | None = None) -> Plan:
    """Preflight and plan: config, router, cluster, namespace, templates. Touches nothing."""
    log = logs.get_logger()
    if router is None:  # nothing read yet: templates first, before any AWS or Kubernetes call
        from bluegreen_hooks.template_check import check_templates

        check_templates(run.config, run.commit, run.deployment_id)
    router = preflight(run, router)
    commit = resolve_commit(
        run.commit, bundle_root=run.bundle_root, application=run.config.application_name
    )
    run.step("plan")
    plan = make_plan(run.config, router.ports, router.active, commit, run.deployment_id)
    from bluegreen_hooks.kube import validate_manifests

    validate_manifests(plan.services + plan.workloads)
    bind_plan(plan)
    log.info("plan ready", port=plan.port, old_port=plan.old_port)
    return plan


def before_install(run: Run) -> Plan:
    """Prepare, then save the plan beside the bundle for ApplicationStart.

    A rerun keeps the saved plan: re-planning after the switch would target the other color.
    """
    saved = load_plan(run)
    if saved is not None:
        preflight(run)
        logs.get_logger().info("plan already saved; keeping it", color=saved.color)
        return saved
    plan = prepare(run)
    if run.bundle_root is not None:
        path = plan_path(run.bundle_root, run.deployment_id)
        path.write_text(plan.to_json(), encoding="utf-8")
        logs.get_logger().info("plan saved", path=str(path))
    return plan


def load_plan(run: Run) -> Plan | None:
    if run.bundle_root is None:
        return None
    path = plan_path(run.bundle_root, run.deployment_id)
    if not path.is_file():
        return None
    plan = Plan.from_json(path.read_text(encoding="utf-8"))
    bind_plan(plan)
    return plan


# --- ApplicationStart -----------------------------------------------------------


def application_start(run: Run, plan: Plan | None = None) -> Plan:
    """Carry out the plan (built now if BeforeInstall did not save one)."""
    plan = plan or load_plan(run) or prepare(run)
    cluster = run.cluster
    held = cluster.lock(plan.application).acquire(plan.deployment_id)
    try:
        router = run.router(accept="unfinished")
        if router.switch is not None:
            router = finish_switch(run, router)
        _check_still_idle(run, plan, router)
        release(run, plan, router)
        check_before_switch(run, plan)
        held.check()  # never switch on a lock that someone else took over
        switch(run, plan, run.router())
    finally:
        held.release()
    return plan


def _check_still_idle(run: Run, plan: Plan, router: RouterState) -> None:
    """Refuse to touch a color that went live since the plan was made, unless we made it so."""
    if router.ports.of(plan.color) != plan.port or router.ports.of(plan.old_color) != plan.old_port:
        raise InconsistentState(
            f"the load balancer's color ports changed since the plan of {plan.deployment_id}",
            hint="start a new deployment",
        )
    if router.active == plan.color and router.commits.get(plan.color) != plan.commit:
        raise InconsistentState(
            f"the plan of {plan.deployment_id} targets {plan.color}, but {plan.color} is live "
            f"with {router.commits.get(plan.color)} (another deploy happened since)",
            hint="start a new deployment; it will target the idle color",
        )


def release(run: Run, plan: Plan, router: RouterState) -> None:
    """Steps 3-5: the idle color's Service and workload, then wait until every replica is Ready."""
    cluster = run.cluster
    signals.note(f"traffic untouched on {plan.old_color}")
    run.step("adopt")
    cluster.adopt(find_adoptions(run, plan, router), plan.application)
    run.step("service")
    cluster.apply_services(plan.services, plan.application, plan.color)
    run.step("workload")
    cluster.replace_workloads(plan.workloads, plan.application, plan.color)
    run.lb.record_commit(router, plan.color, plan.commit)
    run.step("wait")
    cluster.wait_ready(
        plan.workloads,
        run.config.ready_timeout,
        color=plan.color,
        commit=plan.commit,
        policy=run.config.wait,
    )


def find_adoptions(run: Run, plan: Plan, router: RouterState) -> list[Adoption]:
    """Objects with the names of both colors' manifests but without our labels: the seed's
    scripts' (see adoption.py)."""
    live_services, live_workloads = render(
        run.config, router.ports, plan.old_color, plan.commit, plan.deployment_id
    )
    return run.cluster.adoptions(
        idle=(plan.color, plan.services + plan.workloads),
        live=(plan.old_color, live_services + live_workloads),
        live_port=plan.old_port,
    )


def check_before_switch(run: Run, plan: Plan) -> None:
    """The structural check and the before-switch gates on the new color: no listener moves
    unless they pass."""
    from bluegreen_hooks import gates

    run.step("gates")
    report = gates.run_phase(
        run, "before-switch", plan.color, ports=plan_ports(plan), commit=plan.commit
    )
    if not report.passed:
        raise GateFailed(
            report.failure(),
            hint=f"traffic untouched on {plan.old_color}; fix the release and deploy again"
            f" (`bluegreen verify --color {plan.color} --phase before-switch` reruns the checks)",
        )
    logs.get_logger().info("gates passed", phase="before-switch", checks=len(report.results))


def plan_ports(plan: Plan) -> Ports:
    if plan.color == "blue":
        return Ports(blue=plan.port, green=plan.old_port)
    return Ports(blue=plan.old_port, green=plan.port)


def switch(run: Run, plan: Plan, router: RouterState) -> None:
    """Step 6: every public listener, then the health check, to the new color's port
    (in steps when asked: see shift_in_steps)."""
    run.step("switch")
    run.lb.wait_healthy(router, plan.color, run.config.ready_timeout)
    if run.steps:
        shift_in_steps(run, plan, router)
        return
    moved = run.point_at(router, plan.color, "deploy")
    signals.note(f"traffic on {plan.color}")
    log = logs.get_logger()
    if moved:
        log.info("traffic switched", color=plan.color, port=plan.port, listeners=moved)
    else:
        log.info("traffic already on the new color", color=plan.color, port=plan.port)


# --- traffic in steps (an Application Load Balancer) ---------------------------------------


def shift_in_steps(run: Run, plan: Plan, router: RouterState) -> None:
    """Each step's share of traffic to the new color, checked, then a pause before the next.

    A failed check, a signal, or a rollback from elsewhere returns all traffic to the old
    color, one call per listener.
    """
    log = logs.get_logger()
    try:
        for number, percent in enumerate(run.steps):
            if number:
                router = _pause(run, plan)
            signals.note(f"{percent}% of traffic on {plan.color}, sent back to {plan.old_color}")
            run.lb.shift(router, plan.color, percent, by=run.deployment_id, step="deploy")
            log.info("traffic shifted", color=plan.color, percent=percent)
            router = run.router(accept="unfinished")
            after_switch_check(run, router, plan.color, percent)
    except (BluegreenError, Interrupted):
        _shift_back(run, plan)
        raise
    signals.note(f"traffic on {plan.color}")


def after_switch_check(run: Run, router: RouterState, color: Color, percent: int) -> None:
    """The checks after each step of a shift: the new color's targets all healthy, then the
    after-switch gates (after the last step ValidateService runs those, as for any deploy)."""
    problem = run.lb.health_problem(router, color)
    if problem is not None:
        raise DeployFailed(f"step {percent}% to {color} failed its check: {problem}")
    if percent < 100 and run.config.gates.after_switch:
        from bluegreen_hooks import gates

        report = gates.run_phase(
            run, "after-switch", color, ports=router.ports, commit=router.commits.get(color)
        )
        if not report.passed:
            raise GateFailed(f"step {percent}% to {color}: {report.failure()}")
    logs.get_logger().info("step checked", color=color, percent=percent)


def _pause(run: Run, plan: Plan) -> RouterState:
    """Wait `run.pause` seconds between two steps, looking every few seconds whether the shift
    was undone and whether the new color's targets are still all healthy."""
    deadline = time.monotonic() + run.pause
    while True:
        router = _still_shifting(run, plan)
        problem = run.lb.health_problem(router, plan.color)
        if problem is not None:
            raise DeployFailed(f"{plan.color} failed while taking part of the traffic: {problem}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return router
        time.sleep(min(remaining, PAUSE_LOOK_SECONDS))  # a signal here sends traffic back


def _still_shifting(run: Run, plan: Plan) -> RouterState:
    """The router, unless the shift was undone meanwhile (`bluegreen rollback`, `repair`)."""
    router = run.router(accept="unfinished")
    switch = router.switch
    if switch is None or switch.target != plan.color or switch.by != run.deployment_id:
        raise DeployFailed(
            f"the shift to {plan.color} was undone meanwhile ({router.state()}); stopping",
            hint="see `bluegreen status`",
        )
    return router


def _shift_back(run: Run, plan: Plan) -> None:
    """All traffic back on the old color (nothing to do when it is there already)."""
    router = run.router(accept="anything")
    if router.agreed_color() == plan.old_color and router.switch is None:
        return
    run.point_at(router, plan.old_color, "rollback")
    logs.get_logger().warning("traffic returned to the old color", color=plan.old_color)


# --- ValidateService -----------------------------------------------------------------


def validate_service(run: Run, plan: Plan | None = None) -> None:
    """Listeners and health check on the planned color, and its workload still fully Ready.

    If the new color is live but not Ready and the old one is, traffic goes back to the old one.
    """
    plan = plan or load_plan(run)
    run.step("validate")
    router = run.router(accept="unfinished")
    if router.switch is not None:
        router = settle(run, router)
    color = plan.color if plan else router.active
    port = router.ports.of(color)
    if router.active != color:
        raise ValidationFailed(
            f"traffic is on {router.active}, but the plan put it on {color}",
            hint="someone switched since (or a failed after-switch gate rolled back);"
            " check `bluegreen status`",
        )
    colors = run.cluster.readiness_by_color(run.config.application_name)
    readiness = colors[color]
    if not readiness.complete:
        _fall_back(run, router, colors[router.idle])
        raise ValidationFailed(
            f"{color} is live but only {readiness.ready}/{readiness.desired} replicas are Ready"
        )
    problem = run.lb.health_problem(router, color)
    if problem is not None and not run.lb.judges_health:
        raise ValidationFailed(
            problem, hint="rerun ApplicationStart (`bluegreen hook ApplicationStart`)"
        )
    if problem is not None:  # the load balancer finds the live color unhealthy
        if run.lb.health_problem(router, router.idle) is None:
            _fall_back(run, router, colors[router.idle])
        raise ValidationFailed(f"{color} is live but not healthy: {problem}")
    check_after_switch(run, router, color, plan.commit if plan else router.commits.get(color))
    logs.get_logger().info("validated", color=color, port=port, ready=readiness.ready)


def _fall_back(run: Run, router: RouterState, previous_readiness: Readiness) -> bool:
    """Traffic back to the idle color if all its replicas are Ready; whether it went back."""
    previous = router.idle
    if not previous_readiness.complete:
        logs.get_logger().error("old color not Ready either; traffic left as is", color=previous)
        return False
    port = router.ports.of(previous)
    run.point_at(router, previous, "rollback")
    logs.get_logger().warning("traffic returned to the old color", color=previous, port=port)
    return True


def check_after_switch(run: Run, router: RouterState, color: Color, commit: str | None) -> None:
    """The after-switch gates on the live color. On failure, with auto-rollback, traffic goes
    back to the previous color if it is still fully Ready; either way exit 1 saying so."""
    if not run.config.gates.after_switch:
        return
    from bluegreen_hooks import gates

    run.step("gates")
    report = gates.run_phase(run, "after-switch", color, ports=router.ports, commit=commit)
    if report.passed:
        logs.get_logger().info("gates passed", phase="after-switch", checks=len(report.results))
        return
    previous = router.idle
    previous_commit = router.commits.get(previous) or "unknown"
    back_to = f"{previous} (port {router.ports.of(previous)}, commit {previous_commit})"
    if not run.config.auto_rollback:
        raise GateFailed(
            f"{report.failure()}\ntraffic stays on {color} (auto-rollback is off)",
            hint=f"roll back with `bluegreen rollback` (traffic back to {back_to}),"
            " or fix the release and deploy again",
        )
    run.step("rollback")
    readiness = run.cluster.readiness_by_color(run.config.application_name)[previous]
    if _fall_back(run, run.router(), readiness):
        raise GateFailed(f"{report.failure()}\nrolled back: traffic is back on {back_to}")
    raise GateFailed(
        f"{report.failure()}\nnot rolled back: {previous} has only {readiness.ready}/"
        f"{readiness.desired} replicas Ready, so traffic stays on {color}",
        hint="deploy a good release, or `bluegreen rollback --force` to switch anyway",
    )


# --- rollback --------------------------------------------------------------------------


def rollback(run: Run, *, probe: ReadinessProbe | None, check_health: bool = False) -> Color:
    """Switch to the idle color; unless forced (no probe), only if it is Ready and unlocked;
    with `check_health`, only if the load balancer finds it healthy (its target group's word).

    After an interrupted switch: a rollback's rerun finishes it; otherwise traffic goes back
    to the color that was live before that switch.
    """
    router = run.router(accept="unfinished")
    target = _rollback_target(router)
    logs.bind(application=run.config.application_name, old_color=router.active, new_color=target)
    run.step("rollback")
    log = logs.get_logger()  # set up logging now, on this core, while the probe runs on the other
    if probe is not None:
        signals.note(
            f"traffic untouched ({router.state()})"
            if router.switch
            else f"traffic untouched on {router.active}"
        )
        _check_rollback_allowed(probe.result(), target)
    if check_health and (problem := run.lb.health_problem(router, target)) is not None:
        raise DeployFailed(
            f"refusing to roll back to {target}: {problem}",
            hint="deploy a good release instead, or pass --force to switch anyway",
        )
    port = router.ports.of(target)
    run.point_at(router, target, "rollback")
    log.info("rolled back", color=target, port=port, commit=router.commits.get(target))
    return target


def _rollback_target(router: RouterState) -> Color:
    if router.switch is None:
        return router.idle
    return router.switch.target if router.switch.step == "rollback" else router.active


def _check_rollback_allowed(cluster: ClusterReadiness, target: Color) -> None:
    if cluster.lock_holder:
        from bluegreen_hooks.lock import describe_holder

        raise LockHeld(
            f"{describe_holder(cluster.lock_holder)} is running "
            f"(it renews the lock, held until {cluster.lock_until})",
            hint="wait for it to finish, or pass --force to switch anyway",
        )
    readiness = cluster.colors[target]
    if not readiness.complete:
        raise DeployFailed(
            f"refusing to roll back to {target}: {readiness.ready}/{readiness.desired} "
            "replicas Ready",
            hint="deploy a good release instead, or pass --force to switch anyway",
        )


# --- an unfinished switch ----------------------------------------------------------------


def settle(run: Run, router: RouterState) -> RouterState:
    """Finish (or undo) an interrupted switch under the deploy lock; returns the clean router."""
    held = run.cluster.lock(run.config.application_name).acquire(run.deployment_id)
    try:
        return finish_switch(run, run.router(accept="unfinished"))
    finally:
        held.release()


def finish_switch(run: Run, router: RouterState) -> RouterState:
    """Point every listener at the color `repair` would choose; returns the router read again."""
    if router.switch is None:
        return router
    run.step("finish switch")
    colors = run.cluster.readiness_by_color(run.config.application_name)
    target = repair_target(router, colors)
    logs.get_logger().warning(
        "finishing an interrupted switch",
        target=target,
        interrupted=f"{router.switch.step} {router.switch.by}",
        state=router.state(),
    )
    run.point_at(router, target, "repair")
    return run.router()


def repair_target(router: RouterState, colors: Mapping[Color, Readiness]) -> Color:
    """The color to point everything at: fully Ready, preferably the one a switch was moving to.

    Else the color every present listener agrees on, else the only Ready one; refuses when
    it cannot tell.
    """
    ready = [color for color in COLORS if colors[color].complete]
    preferred = [router.switch.target] if router.switch else []
    preferred += [c for c in (router.agreed_present_color(),) if c is not None]
    for color in preferred:
        if color in ready:
            return color
    if len(ready) == 1:
        return ready[0]
    why = "neither color is fully Ready" if not ready else "both colors are fully Ready"
    raise InconsistentState(
        f"load balancer {router.elb_name}: cannot tell which color should be live: {why} "
        f"({router.state()})",
        hint="choose one: `bluegreen repair --color blue` or `--color green`",
    )
