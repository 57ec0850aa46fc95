"""cluster.yaml is checked against Ray's own cluster-launcher schema, so it cannot rot silently."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import ROOT


def _config() -> dict:
    return yaml.safe_load((ROOT / "cluster.yaml").read_text())


def test_cluster_yaml_matches_rays_schema_as_written() -> None:
    import json

    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(_config(), schema)  # raises jsonschema.ValidationError on any violation


def test_cluster_yaml_passes_ray_ups_own_preparation_and_validation() -> None:
    from ray.autoscaler._private.commands import prepare_config
    from ray.autoscaler._private.util import validate_config

    validate_config(prepare_config(_config()))  # what `ray up` does before it starts anything


def test_cluster_has_cpu_head_cpu_workers_and_gpu_workers_from_zero() -> None:
    types = _config()["available_node_types"]
    assert types["head"]["resources"] == {"CPU": 0}
    assert types["cpu_workers"]["min_workers"] >= 1
    assert types["gpu_workers"]["min_workers"] == 0 and types["gpu_workers"]["max_workers"] > 0


def test_token_auth_on_and_dashboard_not_public() -> None:
    config = _config()
    head = " ".join(config["head_start_ray_commands"])
    assert "RAY_AUTH_MODE=token" in head and "RAY_AUTH_MODE=token" in " ".join(config["worker_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head and "0.0.0.0" not in (ROOT / "cluster.yaml").read_text()
    assert "~/.ray/auth_token" in config["file_mounts"]
    assert any("pip install" in c and "gatesweep" in c for c in config["setup_commands"])


def test_the_schema_check_catches_a_typo() -> None:
    import json

    import jsonschema
    import pytest
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    broken = {**_config(), "max_worker": 3}  # typo of max_workers
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
