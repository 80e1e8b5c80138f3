"""``deploy/kubernetes``: every manifest, base and rendered ``prod`` overlay, is valid against the
Kubernetes schemas (``kubernetes-validate``, offline, strict: an unknown field is an error), and
says what the operations guide promises: probes on the health endpoints, a drain that fits the
grace period, non-root read-only pods spread over zones, secrets only as files, settings the
gateways accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from shared.platform.settings import ConfigError, load_settings
from tests.deploy.kustomize import render

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33.0"
VARIANTS = {"base": ROOT / "base", "prod": ROOT / "overlays" / "prod"}
GATEWAYS = ("web", "mobile")


def by_kind(resources: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(VARIANTS[request.param])


def test_every_manifest_is_valid_against_the_kubernetes_schemas(
    manifests: list[dict[str, Any]],
) -> None:
    for resource in manifests:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_every_kind_the_gateways_need_is_there(manifests: list[dict[str, Any]]) -> None:
    kinds = {(r["kind"], r["metadata"]["name"]) for r in manifests}
    for gateway in GATEWAYS:
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert (kind, f"bff-{gateway}") in kinds
    assert ("NetworkPolicy", "bff") in kinds
    assert ("Secret", "bff-secrets") in kinds


def pod(manifests: list[dict[str, Any]], gateway: str) -> dict[str, Any]:
    spec: dict[str, Any] = by_kind(manifests, "Deployment")[f"bff-{gateway}"]["spec"]["template"][
        "spec"
    ]
    return spec


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_pods_probe_health_drain_in_time_and_run_locked_down(
    manifests: list[dict[str, Any]], gateway: str
) -> None:
    spec = pod(manifests, gateway)
    (container,) = spec["containers"]
    assert container["args"][:2] == ["serve", gateway]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    drain = int(by_kind(manifests, "ConfigMap")["bff-common"]["data"]["BFF_SHUTDOWN_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > pause + drain
    assert {"requests", "limits"} <= set(container["resources"])
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    assert "env" not in container, "settings come from ConfigMaps, secrets from files"


def environment(manifests: list[dict[str, Any]], gateway: str, secrets: Path) -> dict[str, str]:
    """What a pod's process sees: its ConfigMaps, with the Secret mounted at ``secrets``."""
    (container,) = pod(manifests, gateway)["containers"]
    maps = by_kind(manifests, "ConfigMap")
    environ: dict[str, str] = {}
    for source in container["envFrom"]:
        environ |= maps[source["configMapRef"]["name"]]["data"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "secrets"]
    return {
        name: value.replace(mount["mountPath"], str(secrets)) for name, value in environ.items()
    }


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_the_configuration_is_one_the_gateway_accepts_once_the_secret_is_filled(
    manifests: list[dict[str, Any]], gateway: str, tmp_path: Path
) -> None:
    """The shipped Secret is empty and fails closed, naming the variable; filled, every
    setting from the ConfigMaps passes the gateway's own production checks."""
    secret = by_kind(manifests, "Secret")["bff-secrets"]["stringData"]
    for key, value in secret.items():
        (tmp_path / key).write_text(value)
    with pytest.raises(ConfigError) as refused:
        load_settings(gateway, environment(manifests, gateway, tmp_path))
    assert str(refused.value).startswith("BFF_SECRET_KEY")

    (tmp_path / "secret-key").write_text("Zq3v9XkP2mW7rT5yB8nL4cF6hJ1dG0sA")
    for key in ("web-client-secret", "mobile-client-secret"):
        (tmp_path / key).write_text("client-secret-from-the-store")
    settings = load_settings(gateway, environment(manifests, gateway, tmp_path))
    assert settings.is_prod
    assert settings.redis_url is not None
    assert settings.shutdown_timeout_s == 20


def test_the_network_policy_lets_in_only_the_ingress_controller(
    manifests: list[dict[str, Any]],
) -> None:
    policy = by_kind(manifests, "NetworkPolicy")["bff"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert {53, 6379, 26379, 443, 4318} <= egress_ports


def test_prod_pins_its_image_and_runs_on_sentinel() -> None:
    prod = render(VARIANTS["prod"])
    for gateway in GATEWAYS:
        (container,) = pod(prod, gateway)["containers"]
        assert container["image"] == "registry.example.com/shop/bff:1.0.0"
        assert container["resources"]["limits"]["memory"] == "768Mi"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"  # kept by merge
    assert {r["metadata"]["namespace"] for r in prod} == {"shop-bff"}
    assert by_kind(prod, "ConfigMap")["bff-common"]["data"]["BFF_REDIS_MODE"] == "sentinel"
