"""`http` gates: N consecutive 2xx answers from the color's NodePort on every node address.

Requests go straight to each node (no proxy: node addresses are inside the network), one
round per `interval`; a round counts only if every node answers 2xx. Each round's outcome is
kept for the report: a status line, `no answer within 5 s`, `connection refused`, ...
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass

from bluegreen_hooks.gates.context import GateContext
from bluegreen_hooks.gates.report import Attempts, GateResult
from bluegreen_hooks.gates.spec import HttpGate
from bluegreen_hooks.identity import USER_AGENT

MAX_BODY_BYTES = 64 * 1024  # read (and drop) at most this much of an answer


@dataclass(frozen=True)
class Answer:
    ok: bool
    outcome: str  # "200 OK", "500 Internal Server Error", "connection refused", ...


def check(gate: HttpGate, ctx: GateContext) -> GateResult:
    started = time.monotonic()
    deadline = started + gate.timeout
    addresses = ctx.node_addresses()
    if not addresses:
        return GateResult(
            gate.describe(),
            gate.kind,
            False,
            "no node address to reach the NodePort on: the Nodes API lists no Ready node with"
            " an InternalIP (set node-addresses in the config)",
        )
    attempts = Attempts(gate.describe())
    streak = 0
    while True:
        remaining = max(deadline - time.monotonic(), 0.05)
        answers = [
            (address, ask(address, ctx.port, gate.path, min(gate.attempt_timeout, remaining)))
            for address in addresses
        ]
        outcome = _round_outcome(answers)
        attempts.add(outcome)
        streak = streak + 1 if all(answer.ok for _, answer in answers) else 0
        if streak >= gate.successes:
            return attempts.result(
                gate.kind,
                True,
                f"{streak} consecutive 2xx from {_where(addresses, ctx.port)}"
                f" ({len(attempts)} attempts)",
                started,
            )
        if time.monotonic() + gate.interval >= deadline:
            return attempts.result(
                gate.kind,
                False,
                f"no {gate.successes} consecutive 2xx from {_where(addresses, ctx.port)} within"
                f" {gate.timeout:g} s; {len(attempts)} attempts: {attempts.summary()}",
                started,
            )
        time.sleep(gate.interval)


def ask(address: str, port: int, path: str, timeout: float) -> Answer:
    """One GET, straight to `address:port`; never raises for what the network does."""
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
        response = connection.getresponse()
        response.read(MAX_BODY_BYTES)
        outcome = f"{response.status} {response.reason}".strip()
        return Answer(200 <= response.status < 300, outcome)
    except ConnectionRefusedError:
        return Answer(False, "connection refused")
    except TimeoutError:
        return Answer(False, f"no answer within {timeout:g} s")
    except ConnectionResetError:
        return Answer(False, "connection reset")
    except http.client.RemoteDisconnected:
        return Answer(False, "connection closed without an answer")
    except http.client.HTTPException as exc:
        return Answer(False, f"not an HTTP answer ({type(exc).__name__})")
    except OSError as exc:
        return Answer(False, exc.strerror or type(exc).__name__)
    finally:
        connection.close()


def _round_outcome(answers: list[tuple[str, Answer]]) -> str:
    """One outcome for a round: the answer itself with one node, else each node's."""
    if len(answers) == 1:
        return answers[0][1].outcome
    outcomes = {answer.outcome for _, answer in answers}
    if len(outcomes) == 1:
        return f"{outcomes.pop()} (every node)"
    return "; ".join(f"{address}: {answer.outcome}" for address, answer in answers)


def _where(addresses: tuple[str, ...], port: int) -> str:
    if len(addresses) == 1:
        address = addresses[0]
        return f"{f'[{address}]' if ':' in address else address}:{port}"
    return f"{len(addresses)} nodes on port {port}"
