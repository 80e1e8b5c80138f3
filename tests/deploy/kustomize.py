"""Render a kustomization the way ``kubectl kustomize`` does, for the few features
``deploy/kubernetes`` uses (resources, namespace, images, strategic-merge patches by file), so
the tests check the manifests a cluster would receive without a kustomize binary. Anything else
in a kustomization is refused, so a feature added there cannot be silently skipped here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Resource]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise ValueError(f"{directory}: kustomization fields not rendered here: {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        resources += render(path) if path.is_dir() else load_documents(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise ValueError(f"{directory}: only file patches are rendered here: {patch}")
        for document in load_documents(directory / patch["path"]):
            merge(_find(resources, document), document)
    namespace = kustomization.get("namespace")
    for resource in resources:
        if namespace:
            resource["metadata"]["namespace"] = namespace
        _set_images(resource, kustomization.get("images", []))
    return resources


def _key(resource: Resource) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def _find(resources: list[Resource], patch: Resource) -> Resource:
    for resource in resources:
        if _key(resource) == _key(patch):
            return resource
    raise ValueError(f"patch for {_key(patch)} matches no resource")


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for these manifests: maps merge key by key, lists of
    named items (containers, env, volumes, ports) merge by name, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            base[key] = merge(base[key], value) if key in base else value
        return base
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        by_name = {item["name"]: item for item in base}
        for item in patch:
            if item["name"] in by_name:
                merge(by_name[item["name"]], item)
            else:
                base.append(item)
        return base
    return patch


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _set_images(resource: Resource, images: list[dict[str, str]]) -> None:
    if resource["kind"] != "Deployment":
        return
    for container in resource["spec"]["template"]["spec"]["containers"]:
        name, _, tag = container["image"].partition(":")
        for image in images:
            if image["name"] == name:
                name, tag = image.get("newName", name), image.get("newTag", tag)
        container["image"] = f"{name}:{tag}" if tag else name
