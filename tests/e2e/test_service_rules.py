"""Service templates a cluster would refuse with 422 (the emulated API now does too) stop the
run as template errors, exit 2, before AWS or Kubernetes hears of it; the same Service, had it
been sent, is refused by the API with the cause the product names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from bluegreen_hooks.sandbox.environment import Sandbox
from tests.e2e.world import App, kube_api

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: ${{APPLICATION_NAME}}-${{COLOR}}
spec:
  type: NodePort
  selector:
    app: ${{APPLICATION_NAME}}
    color: ${{COLOR}}
  ports:
{ports}
"""

CASES = {
    "unnamed ports": (
        "    - port: 80\n      nodePort: ${PORT}\n    - port: 443\n",
        "spec.ports[0].name: every port needs a name when there are several",
        "spec.ports[0].name: Required value",
    ),
    "same name twice": (
        "    - name: web\n      port: 80\n      nodePort: ${PORT}\n"
        "    - name: web\n      port: 81\n",
        "spec.ports[1].name: 'web' is used twice",
        'spec.ports[1].name: Duplicate value: "web"',
    ),
    "same port twice": (
        "    - name: a\n      port: 80\n      nodePort: ${PORT}\n    - name: b\n      port: 80\n",
        "spec.ports[1]: port 80/TCP is listed twice",
        "spec.ports[1]: Duplicate value",
    ),
    "bad target port name": (
        "    - port: 80\n      targetPort: http_alt\n      nodePort: ${PORT}\n",
        "spec.ports[0].targetPort: 'http_alt' is neither a port number nor a port name",
        'spec.ports[0].targetPort: Invalid value: "http_alt"',
    ),
    "no ports": (
        "    []\n",
        "spec.ports: a Service needs at least one port",
        "spec.ports: Required",
    ),
}


def write_service(app: App, ports: str) -> Path:
    path = app.folder / ".kubernetes" / "deploy" / f"{app.name}-service.yaml.tmpl"
    path.write_text(SERVICE.format(ports=ports))
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_service_the_cluster_would_refuse_is_a_template_error_before_any_request(
    sandbox: Sandbox, app: App, case: str
) -> None:
    ports, said, _ = CASES[case]
    write_service(app, ports)
    aws_before, kube_before = sandbox.aws.request_count, sandbox.kube.request_count

    result = app.bluegreen("deploy", "--commit", "1111111aaaaaaaa")

    assert result.returncode == 2, result.stderr
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.aws.request_count == aws_before
    assert sandbox.kube.request_count == kube_before


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_api_refuses_the_same_service_with_the_cause(app: App, case: str) -> None:
    ports, _, cause = CASES[case]
    text = SERVICE.format(ports=ports).replace("${APPLICATION_NAME}", f"{app.name}-raw")
    body = yaml.safe_load(text.replace("${COLOR}", "blue").replace("${PORT}", "31999"))
    core = kube_api("CoreV1Api")

    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_service("default", body)

    assert refused.value.status == 422
    assert cause in json.loads(refused.value.body or "{}")["message"]
    assert (
        core.list_namespaced_service(
            "default", field_selector=f"metadata.name={app.name}-raw-blue"
        ).items
        == []
    )
