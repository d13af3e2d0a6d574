"""`bluegreen sandbox`: both emulators on loopback, set up for an app's config, an env file,
and a clean stop on SIGINT or SIGTERM, however it was started."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
from kubernetes import client, config

from tests.e2e.world import EXAMPLE
from tests.unit.test_examples import try_it_commands

CLEAN_PREFIXES = ("AWS_", "BLUEGREEN_", "BUNDLE_", "KUBECONFIG", "DEPLOYMENT_ID")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that points clients somewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_PREFIXES)}
    return {**env, **extra}


def refused_sandbox(
    cwd: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`bluegreen sandbox ARGV`, expected to refuse before it starts anything."""
    return subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "sandbox", *argv],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _json_or_none(line: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0]
    return env


@dataclass
class Running:
    process: subprocess.Popen[str]
    env_file: Path
    env: dict[str, str]
    lines: list[dict[str, Any]]  # up to "sandbox running"
    later: list[dict[str, Any]] = field(default_factory=list)  # the rest, drained as it comes

    def __post_init__(self) -> None:
        self.drainer = threading.Thread(
            target=_drain, args=(self.process.stderr, self.later), daemon=True
        )

    @property
    def temp_dir(self) -> Path:
        return Path(self.env["KUBECONFIG"]).parent

    def stop(self, number: int = signal.SIGTERM) -> int:
        self.process.send_signal(number)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            tail = [entry.get("event") for entry in self.later[-80:]]  # with its thread dump
            raise AssertionError(f"the sandbox did not stop; its last lines: {tail}") from None
        self.drainer.join(timeout=10)  # the pipe's end: every line it wrote has been read
        return code

    def boto(self, service: str, region: str | None = None) -> Any:
        make: Any = boto3.client
        return make(
            service,
            endpoint_url=self.env["AWS_ENDPOINT_URL"],
            region_name=region or self.env["AWS_DEFAULT_REGION"],
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",
        )

    def core(self) -> Any:
        loader: Any = config
        return client.CoreV1Api(loader.new_client_from_config(config_file=self.env["KUBECONFIG"]))


def _drain(stream: IO[str], lines: list[dict[str, Any]]) -> None:
    """Keep reading the sandbox's log, as a terminal would: a full pipe would block it."""
    for line in stream:
        lines.append(_json_or_none(line) or {"event": line.rstrip()})


def _ignore_sigint() -> None:
    """What a shell does for a background job (`bluegreen sandbox &`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def temp_root(cwd: Path) -> Path:
    """The sandbox's TMPDIR, one per test, so its temporary files can be seen to go."""
    root = cwd.parent / f"{cwd.name}-tmp"
    root.mkdir(exist_ok=True)
    return root


def start(*argv: str, cwd: Path, ignore_sigint: bool = False) -> Running:
    """Start `bluegreen sandbox` and wait for its `sandbox running` line (JSON logs: no TTY)."""
    env_file = cwd / "sandbox.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_hooks", "sandbox", "--ready-delay", "0.1", *argv],
        cwd=cwd,
        env=clean_env(TMPDIR=str(temp_root(cwd))),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint if ignore_sigint else None,
    )
    assert process.stderr is not None
    lines: list[dict[str, Any]] = []
    for line in process.stderr:
        entry = _json_or_none(line)
        assert entry is not None, line
        lines.append(entry)
        if entry["event"] == "sandbox running":
            running = Running(process, env_file, read_env_file(env_file), lines)
            running.drainer.start()
            return running
    raise AssertionError(f"sandbox exited {process.wait()} before running: {lines}")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example app, with a namespace the emulator does not start with."""
    folder = tmp_path / "triggers-service"
    shutil.copytree(EXAMPLE, folder)
    settings = json.loads((folder / ".oopsrc").read_text())
    settings["namespace"] = "triggers"
    (folder / ".oopsrc").write_text(json.dumps(settings))
    return folder


def run_in_shell(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[str, str]:
    """A failing command typed in a shell that sourced sandbox.env: its error and fix lines."""
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", *argv, "--log-format", "console"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    *before, error, fix = result.stderr.strip().splitlines()
    # Before giving up, the run may say its context once and each retry of a refused request.
    assert all(line.startswith("-- ") or "request failed; retrying" in line for line in before), (
        before
    )
    return error, fix


SANDBOX_FIX = (
    "  fix: is the sandbox running? start it with `bluegreen sandbox` (then `. sandbox.env`)"
)


@pytest.mark.slow
def test_an_empty_sandbox_serves_aws_and_kubernetes_replacing_a_stale_env_file(
    tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    (tmp_path / "sandbox.env").write_text(f"export AWS_ENDPOINT_URL=http://127.0.0.1:{dead_port}\n")

    sandbox = start(cwd=tmp_path)
    running_sandboxes.append(sandbox)

    assert sandbox.lines[-1]["env_file"] == str(tmp_path / "sandbox.env")
    assert sandbox.env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert sandbox.env["AWS_ENDPOINT_URL"] != f"http://127.0.0.1:{dead_port}"
    assert "BLUEGREEN_CONFIG" not in sandbox.env
    probe_run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import boto3, os; from kubernetes import client, config;"
            "print(boto3.client('elb').describe_load_balancers()['LoadBalancerDescriptions']);"
            "api = config.new_client_from_config(config_file=os.environ['KUBECONFIG']);"
            "print([n.metadata.name for n in client.CoreV1Api(api).list_node().items])",
        ],
        env=clean_env(**sandbox.env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe_run.returncode == 0, probe_run.stderr
    assert probe_run.stdout.splitlines() == ["[]", "['sandbox-node']"]
    assert sandbox.stop(signal.SIGINT) == 0


@pytest.mark.slow
def test_the_sandbox_creates_what_the_apps_config_names_in_its_region(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    settings = json.loads((example / ".oopsrc").read_text())
    (example / ".oopsrc").write_text(json.dumps({**settings, "region": "eu-central-1"}))
    sandbox = start("--app", str(example), cwd=tmp_path)
    running_sandboxes.append(sandbox)

    elb = sandbox.boto("elb", "eu-central-1")
    [main] = elb.describe_load_balancers(LoadBalancerNames=["triggers-octoblu-com"])[
        "LoadBalancerDescriptions"
    ]
    listeners = {
        d["Listener"]["LoadBalancerPort"]: d["Listener"] for d in main["ListenerDescriptions"]
    }
    assert sorted(listeners) == [80, 443]
    assert listeners[80]["Protocol"] == "HTTP"
    assert listeners[443]["Protocol"] == "HTTPS"
    assert {listener["InstancePort"] for listener in listeners.values()} == {30001}
    [certificate] = sandbox.boto("iam").list_server_certificates()["ServerCertificateMetadataList"]
    assert listeners[443]["SSLCertificateId"] == certificate["Arn"]
    tags = elb.describe_tags(LoadBalancerNames=["triggers-octoblu-com"])["TagDescriptions"][0]
    assert {t["Key"]: t["Value"] for t in tags["Tags"]} == {"blue": "30001", "green": "30002"}

    [preview] = elb.describe_load_balancers(LoadBalancerNames=["triggers-octoblu-com-preview"])[
        "LoadBalancerDescriptions"
    ]
    assert {d["Listener"]["InstancePort"] for d in preview["ListenerDescriptions"]} == {30000}

    s3 = sandbox.boto("s3", "eu-central-1")
    assert s3.get_bucket_location(Bucket="octoblu-deploy")["LocationConstraint"] == "eu-central-1"
    codedeploy = sandbox.boto("codedeploy", "eu-central-1")
    group = codedeploy.get_deployment_group(
        applicationName="triggers-service", deploymentGroupName="master"
    )["deploymentGroupInfo"]
    assert group["serviceRoleArn"].endswith(":role/bluegreen-sandbox-codedeploy")
    assert sandbox.core().read_namespace("triggers").metadata.name == "triggers"
    assert sandbox.env["BLUEGREEN_CONFIG"] == str(example / ".oopsrc")
    status = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "status", "--output", "json"],
        cwd=tmp_path,
        env=clean_env(**sandbox.env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["active"] == {"color": "blue", "port": 30001, "commit": None}
    assert sandbox.stop() == 0


def publish_and_deploy(sandbox: Running, commit: str, *, cwd: Path) -> str:
    """From a shell that sourced sandbox.env: `bundle --upload`, then `oops deploy --no-wait`;
    returns the deployment id it printed."""
    shell = clean_env(**sandbox.env)
    for argv in (
        ["bluegreen_hooks", "bundle", "--commit", commit, "--upload"],
        ["bluegreen_hooks.oops", "deploy", commit[:7], "--no-wait"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", *argv], cwd=cwd, env=shell, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip()


@pytest.mark.slow
def test_the_sandbox_agent_takes_deployments_in_the_apps_region(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    settings = json.loads((example / ".oopsrc").read_text())
    (example / ".oopsrc").write_text(json.dumps({**settings, "region": "eu-central-1"}))
    sandbox = start("--app", str(example), cwd=tmp_path)
    running_sandboxes.append(sandbox)
    deployment_id = publish_and_deploy(sandbox, "abcdef1234567", cwd=tmp_path)
    codedeploy = sandbox.boto("codedeploy", "eu-central-1")

    deadline = time.monotonic() + 30
    while (
        status := codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
    ) == "Created":
        assert time.monotonic() < deadline, "the sandbox's agent never took the deployment"
        time.sleep(0.1)

    assert status in ("InProgress", "Succeeded", "Failed")
    assert sandbox.stop() == 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("number", "how"),
    [(signal.SIGINT, "--config"), (signal.SIGTERM, "cwd")],
    ids=["SIGINT-config", "SIGTERM-cwd"],
)
def test_a_background_sandbox_stops_cleanly_on_a_signal(
    number: int, how: str, example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    """Started as `bluegreen sandbox --config F &` or from the app's folder (SIGINT ignored,
    as a shell starts background jobs), used from a second shell, then stopped."""
    argv = ["--config", str(example / ".oopsrc")] if how == "--config" else []
    sandbox = start(*argv, cwd=tmp_path if argv else example, ignore_sigint=True)
    running_sandboxes.append(sandbox)
    shell = clean_env(**sandbox.env)  # what a shell that sourced sandbox.env holds
    status = subprocess.run(
        [sys.executable, "-m", "bluegreen_hooks", "status", "--output", "json"],
        cwd=tmp_path,
        env=shell,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["active"] == {"color": "blue", "port": 30001, "commit": None}

    assert sandbox.stop(number) == 0

    assert not sandbox.env_file.exists()
    assert not sandbox.temp_dir.exists()
    assert list(temp_root(sandbox.env_file.parent).iterdir()) == []
    assert sandbox.later[-1]["event"] == "sandbox stopped"
    error, fix = run_in_shell(["status"], shell, tmp_path)
    assert error.startswith("error: AWS: Could not connect to the endpoint URL")
    assert fix == SANDBOX_FIX


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_sandbox_sets_up_stops_it_cleanly(
    number: int, example: Path, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bluegreen_hooks", "sandbox", "--app", str(example)],
        cwd=tmp_path,
        env=clean_env(TMPDIR=str(temp_root(tmp_path))),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignore_sigint,
    )
    try:
        assert process.stderr is not None
        events: list[str] = []
        for line in process.stderr:
            entry = _json_or_none(line)
            events.append(entry["event"] if entry else line)
            if events[-1] == "load balancer created":  # handlers are in place by now
                process.send_signal(number)
                break
        events += [e["event"] for e in map(_json_or_none, process.stderr) if e]
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)

    assert events[-1] == "sandbox stopped"
    assert not (tmp_path / "sandbox.env").exists()
    assert list(temp_root(tmp_path).iterdir()) == []


def test_an_env_file_in_a_missing_folder_exits_2_before_starting(tmp_path: Path) -> None:
    result = refused_sandbox(
        tmp_path, "--env-file", "nope/sandbox.env", env=clean_env(TMPDIR=str(temp_root(tmp_path)))
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'nope'} is not a writable folder" in result.stderr
    assert list(temp_root(tmp_path).iterdir()) == []


def test_a_seed_minimal_config_gets_its_load_balancer_only(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    (example / ".oopsrc").write_text(
        json.dumps({"elb-name": "triggers-octoblu-com", "application-name": "triggers-service"})
    )

    sandbox = start("--app", str(example), cwd=tmp_path)
    running_sandboxes.append(sandbox)

    found = sandbox.boto("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    assert [d["LoadBalancerName"] for d in found] == ["triggers-octoblu-com"]
    assert sandbox.boto("s3").list_buckets()["Buckets"] == []
    assert sandbox.boto("codedeploy").list_applications()["applications"] == []
    assert [e["event"] for e in sandbox.lines if e["event"].endswith("created")] == [
        "load balancer created"
    ]
    assert sandbox.stop() == 0


def test_a_second_sandbox_refuses_the_env_file_of_a_running_one(
    tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    first = start(cwd=tmp_path)
    running_sandboxes.append(first)
    before = first.env_file.read_text()

    second = refused_sandbox(tmp_path)

    assert second.returncode == 2, second.stderr
    assert "belongs to a sandbox that is still running" in second.stderr
    assert "--env-file" in second.stderr
    assert first.env_file.read_text() == before
    # someone points sandbox.env elsewhere meanwhile: stopping leaves their file alone
    first.env_file.write_text("export AWS_ENDPOINT_URL=http://127.0.0.1:1\n")
    assert first.stop() == 0
    assert first.env_file.read_text() == "export AWS_ENDPOINT_URL=http://127.0.0.1:1\n"


@pytest.mark.slow
def test_after_a_killed_sandbox_aws_and_kubernetes_commands_ask_whether_it_is_running(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    sandbox = start("--app", str(example), cwd=tmp_path)
    running_sandboxes.append(sandbox)
    assert sandbox.stop(signal.SIGKILL) == -signal.SIGKILL
    try:
        shell = clean_env(**read_env_file(sandbox.env_file))  # left behind, as is its kubeconfig

        aws = run_in_shell(["status"], shell, tmp_path)
        kube = run_in_shell(["readiness"], shell, tmp_path)

        assert aws[0].startswith("error: AWS: Could not connect to the endpoint URL")
        assert kube[0].startswith("error: Kubernetes API at http://127.0.0.1:")
        assert "Connection refused" in kube[0]
        assert aws[1] == kube[1] == SANDBOX_FIX
    finally:
        shutil.rmtree(sandbox.temp_dir, ignore_errors=True)


@pytest.mark.parametrize("config", [None, '{\n  "elb-name": "x",\n  oops\n}\n'])
def test_an_app_folder_without_a_valid_config_exits_2_and_starts_nothing(
    config: str | None, tmp_path: Path
) -> None:
    if config is not None:
        (tmp_path / ".oopsrc").write_text(config)

    result = refused_sandbox(tmp_path, "--app", str(tmp_path))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    if config is None:
        assert f"--app names {tmp_path}, which has no .oopsrc" in result.stderr
    else:
        assert str(tmp_path / ".oopsrc") in result.stderr
    assert not (tmp_path / "sandbox.env").exists()


# Python's documented way to make a module unimportable: None in sys.modules makes
# `import moto` raise ModuleNotFoundError, as on a host installed without the extra.
WITHOUT_MOTO = (
    "import sys; sys.modules['moto'] = None; "
    "from bluegreen_hooks.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


@pytest.mark.parametrize("command", ["sandbox", "demo"])
def test_without_the_sandbox_extra_it_names_the_extra_to_install(
    command: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_MOTO, command, "--log-format", "console"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "the sandbox needs the package 'moto', which is not installed" in result.stderr
    assert "pip install 'bluegreen-hooks[sandbox]'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_readme_walkthrough_against_a_running_sandbox(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    """README "Try it", command by command: a sandbox started for the app, and a second
    shell that sourced sandbox.env publishing, listing, deploying, previewing, rolling back."""
    start_sandbox, *typed = try_it_commands()
    assert start_sandbox[:3] == ["bluegreen", "sandbox", "--app"]
    sandbox = start("--app", str(example), cwd=tmp_path, ignore_sigint=True)
    running_sandboxes.append(sandbox)
    shell = clean_env(**sandbox.env)

    def run(words: list[str]) -> str:
        module = "bluegreen_hooks" if words[0] == "bluegreen" else "bluegreen_hooks.oops"
        result = subprocess.run(
            [sys.executable, "-m", module, *words[1:]],
            cwd=tmp_path,
            env=shell,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, f"{shlex.join(words)}: {result.stderr}"
        return result.stdout

    outputs = [(words, run(words)) for words in typed]

    first, second = (w[w.index("--commit") + 1] for w, _ in outputs if w[1] == "bundle")
    listed = next(out for w, out in outputs if w[:2] == ["oops", "list"])
    assert first[:12] in listed and second[:12] in listed
    status = json.loads(next(out for w, out in outputs if w[:2] == ["oops", "status"]))
    assert status["active"] == {"color": "blue", "port": 30001, "commit": second}
    assert status["off"] == {"color": "green", "port": 30002, "commit": first}
    after = json.loads(run(["oops", "status"]))
    assert after["active"] == status["off"]  # rolled back
    assert (after["preview"]["color"], after["preview"]["commit"]) == ("green", first)
    assert sandbox.stop(signal.SIGINT) == 0
    assert not sandbox.temp_dir.exists()


def _hooks_running(folder: Path, event: str) -> set[int]:
    """Live processes running hook `event` with their working directory inside `folder`."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cwd.is_relative_to(folder) and event.encode() in command:
            found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_stopping_the_sandbox_mid_deployment_kills_the_running_hook(
    example: Path, tmp_path: Path, running_sandboxes: list[Running]
) -> None:
    sandbox = start("--app", str(example), cwd=tmp_path, ignore_sigint=True)
    running_sandboxes.append(sandbox)
    publish_and_deploy(sandbox, "broken6eeeeeeee", cwd=tmp_path)
    deadline = time.monotonic() + 60
    # ApplicationStart waits (up to ready-timeout) for pods that never become Ready
    while not (hooks := _hooks_running(sandbox.temp_dir, "ApplicationStart")):
        assert time.monotonic() < deadline, "ApplicationStart never started"
        time.sleep(0.1)

    assert sandbox.stop(signal.SIGTERM) == 0

    assert not sandbox.temp_dir.exists()
    assert not sandbox.env_file.exists()
    assert not hooks & _hooks_running(Path("/"), "ApplicationStart")
