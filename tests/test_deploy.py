"""deploy/: the compose file that runs Milvus standalone and two API nodes behind one address, checked
for validity here (containers cannot be started on the test machines; `docker compose config` runs
where Docker is installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return dict(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))


def test_milvus_standalone_with_its_etcd_and_object_store(compose: dict) -> None:
    services = compose["services"]
    milvus = services["milvus"]
    assert milvus["command"] == ["milvus", "run", "standalone"]
    assert set(milvus["depends_on"]) == {"etcd", "minio"}
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "minio:9000"
    for name in ("etcd", "minio", "milvus"):
        assert "healthcheck" in services[name] and ":" in services[name]["image"], name
        assert any(v.split(":")[0] in compose["volumes"] for v in services[name]["volumes"]), name


def test_two_api_nodes_hold_no_index_and_read_milvus(compose: dict) -> None:
    services = compose["services"]
    for name in ("api1", "api2"):
        node = services[name]
        env = node["environment"]
        assert env["COUNCILQA_STORE"] == "milvus" and env["COUNCILQA_MILVUS_URI"] == "http://milvus:19530"
        assert node["command"][:2] == ["councilqa", "serve"]
        assert [v for v in node.get("volumes", []) if "index" in v] == [], f"{name} mounts an index folder"
        assert node["depends_on"]["milvus"]["condition"] == "service_healthy"
    assert services["builder"]["command"][:2] == ["councilqa", "index"]
    assert services["builder"]["environment"]["COUNCILQA_STORE"] == "milvus"


def test_one_address_in_front_of_both_nodes(compose: dict) -> None:
    front = compose["services"]["front"]
    assert set(front["depends_on"]) == {"api1", "api2"}
    conf = (DEPLOY / "nginx.conf").read_text()
    assert re.findall(r"server (api\d):8000", conf) == ["api1", "api2"]
    mounted = [v.split(":")[0] for v in front["volumes"]]
    assert "./nginx.conf" in mounted


def test_the_image_copies_what_exists() -> None:
    root = DEPLOY.parent
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (root / src).exists(), src


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_compose(), reason="Docker Compose is not installed here: the YAML checks above only")
def test_docker_compose_accepts_it() -> None:
    done = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
