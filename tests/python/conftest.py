"""Shared fixtures: paths to the built `oxrt` command and a cache of generated models."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OXRT_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "bench", "models"))


@pytest.fixture(scope="session")
def oxrt_bin():
    path = os.path.join(BUILD, "oxrt")
    assert os.path.exists(path), f"{path} is missing: build first (make build)"
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("models"))


def run_cli(oxrt_bin, *args, check=True):
    p = subprocess.run([oxrt_bin, *args], capture_output=True, text=True, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"oxrt {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p
