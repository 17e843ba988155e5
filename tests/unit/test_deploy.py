"""deploy/ stays true to the services: the Kubernetes manifests are valid against the
Kubernetes schemas (kubernetes-validate, offline), and the proxy, the Ingress, the
compose file and the image run each service the way the code defines it (its path
prefixes, its health routes, ``tomoni serve <name>``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from services.checkin.app import DEFINITION as CHECKIN
from services.notify.app import DEFINITION as NOTIFY
from services.registration.app import DEFINITION as REGISTRATION
from services.stamprally.app import DEFINITION as STAMPRALLY

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DEFINITIONS = {d.name: d for d in (REGISTRATION, CHECKIN, STAMPRALLY, NOTIFY)}
K8S_VERSION = "1.30.0"
# Custom resources of the operators we rely on: no schema in kubernetes-validate.
OPERATOR_KINDS = {
    ("postgresql.cnpg.io/v1", "Cluster"),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"),
}


def base_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d]
    return docs


def owner(path: str) -> str | None:
    """The service owning ``path``: the longest matching prefix wins."""
    best = ("", None)
    for name, d in DEFINITIONS.items():
        for p in d.prefixes:
            if (path == p or path.startswith(p + "/")) and len(p) > len(best[0]):
                best = (p, name)
    return best[1]


def test_every_manifest_is_valid_kubernetes() -> None:
    docs = base_documents()
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in OPERATOR_KINDS:
            assert doc["metadata"]["name"] and doc["spec"]
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_each_service_is_deployed_with_its_probes_and_command() -> None:
    docs = base_documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {f"tomoni-{n}" for n in DEFINITIONS}
    for name in DEFINITIONS:
        spec = deployments[f"tomoni-{name}"]["spec"]
        assert spec["replicas"] >= 2
        container = spec["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve", name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        for kind in ("Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            assert (kind, f"tomoni-{name}") in kinds


def test_the_ingress_routes_every_prefix_to_its_service() -> None:
    [ingress] = [d for d in base_documents() if d["kind"] == "Ingress"]
    paths = {
        p["path"]: p["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    expected = {p: f"tomoni-{n}" for n, d in DEFINITIONS.items() for p in d.prefixes}
    assert paths == expected


@pytest.mark.parametrize("overlay", ["small", "city"])
def test_overlay_patches_touch_what_the_base_has(overlay: str) -> None:
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base"]
    docs = base_documents()
    for patch in kustomization["patches"]:
        target = patch["target"]
        matched = [
            d
            for d in docs
            if d["kind"] == target["kind"]
            and target.get("name", d["metadata"]["name"]) == d["metadata"]["name"]
        ]
        assert matched, target
        for op in yaml.safe_load(patch["patch"]):
            assert op["op"] == "replace"
            for doc in matched:
                node: Any = doc
                for part in op["path"].strip("/").split("/"):
                    node = node[int(part)] if isinstance(node, list) else node[part]


def nginx_routes() -> dict[str, str]:
    text = (DEPLOY / "compose" / "nginx.conf").read_text()
    found = re.findall(r"location\s+(/[\w/-]*)\s+\{\s*proxy_pass http://(\w+);", text)
    return {path.rstrip("/"): upstream for path, upstream in found}


def test_the_proxy_routes_every_prefix_and_static_folder_to_its_service() -> None:
    routes = nginx_routes()
    for name, d in DEFINITIONS.items():
        for prefix in d.prefixes:
            assert routes.get(prefix) == name, prefix
        for static, _folder in d.statics:
            assert routes.get(static) == name, static
    # nginx, like the Ingress and `tomoni up`, gives a path to its longest prefix.
    for path in ("/console/notify/fair", "/console/events/x", "/notify/unsubscribe", "/rally/c/1"):
        longest = max((p for p in routes if path.startswith(p)), key=len)
        assert routes[longest] == owner(path), path


def test_the_compose_file_runs_three_nats_nodes_postgres_and_two_replicas_each() -> None:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"nats-1", "nats-2", "nats-3", "postgres", "migrate", "proxy"} <= set(services)
    for name in DEFINITIONS:
        s = services[name]
        assert s["command"] == ["serve", name]
        assert s["deploy"]["replicas"] == 2
        assert s["environment"]["TOMONI_STREAM_REPLICAS"] == "3"
        assert s["environment"]["TOMONI_DATABASE_URL"].startswith(f"postgresql://{name}:")
        assert "/readyz" in " ".join(s["healthcheck"]["test"])
    for volume in services["postgres"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (DEPLOY / "compose" / source).exists(), source
    nats = (DEPLOY / "compose" / "nats.conf").read_text()
    assert "sync_interval: always" in nats and nats.count("nats://nats-") == 3


def test_the_image_runs_as_a_user_without_compilers() -> None:
    final = (DEPLOY / "Dockerfile").read_text().split("\nFROM ")[-1]
    assert "USER 10001" in final
    assert "gcc" not in final and "apt-get install" not in final
    assert 'ENTRYPOINT ["tomoni"]' in final


def _compose_schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """The Compose Specification's JSON schema (vendored by check-jsonschema): what
    `docker compose config` checks first, for this machine without the compose plugin."""
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    ok = _compose_schema_check(DEPLOY / "compose" / "compose.yaml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The control: a mistake the schema knows (a restart policy that does not exist).
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    compose["services"]["checkin"]["restart"] = {"when": "sometimes"}
    broken = tmp_path / "compose.yaml"
    broken.write_text(yaml.safe_dump(compose))
    bad = _compose_schema_check(broken)
    assert bad.returncode != 0 and "restart" in bad.stdout + bad.stderr


def test_every_nats_the_deployments_run_is_2_12_or_newer() -> None:
    """The relays' atomic batches need nats-server 2.12: compose's nodes and the Helm
    values pin the same image."""
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    images = {s["image"] for n, s in compose["services"].items() if n.startswith("nats-")}
    values = yaml.safe_load((DEPLOY / "k8s" / "nats" / "values.yaml").read_text())
    helm = values["container"]["image"]
    assert images == {f"{helm['repository']}:{helm['tag']}"}
    major, minor = (int(x) for x in helm["tag"].split("-")[0].split(".")[:2])
    assert (major, minor) >= (2, 12)
