"""`bluegreen repair`: every public listener, as recorded, and the health check on one color.

Without `--color` it picks the color whose replicas are all Ready (preferring the one an
interrupted switch was moving to) by asking `bluegreen readiness` in a child process, so this
process stays free of the Kubernetes client; it refuses (exit 4) when it cannot tell.
"""

from __future__ import annotations

import argparse

from bluegreen_hooks.readiness_probe import ReadinessProbe


def run(args: argparse.Namespace) -> int:
    probe = None if args.color else ReadinessProbe(args.config)
    try:
        from bluegreen_hooks import elb, lifecycle, logs
        from bluegreen_hooks.colors import Color, parse_color
        from bluegreen_hooks.commands.common import config_from, new_deployment_id
        from bluegreen_hooks.errors import DeployFailed

        config = config_from(args)
        client = elb.make_client(config)
        router = elb.read_router(client, config, accept="anything")
        unfinished = router.switch is not None or bool(router.missing)
        clean = None if unfinished else router.agreed_color()
        target: Color
        if args.color:
            target = parse_color(args.color)
        elif clean:
            target = clean
        else:
            assert probe is not None
            try:
                ready = probe.result().colors
            except DeployFailed as exc:
                raise DeployFailed(
                    f"{exc.message} (repair asks it which color is Ready)",
                    hint="fix that, or choose the color yourself: `bluegreen repair --color C`",
                ) from exc
            target = lifecycle.repair_target(router, {c: r.complete for c, r in ready.items()})
        logs.bind(step="repair", new_color=target)
        moved = elb.point_at(
            client,
            router,
            config.health_check,
            target,
            by=new_deployment_id("repair"),
            step="repair",
        )
        logs.get_logger().info(
            "router repaired" if moved or not clean else "nothing to repair",
            color=target,
            port=router.ports.of(target),
            listeners=moved,
        )
    finally:
        if probe is not None:
            probe.cancel()
    return 0
