"""Per-model configuration: MODEL_DIR/config.json (every key optional).

    {"max_batch_size": 8, "max_queue_delay_ms": 2, "instance_count": 1, "threads": 0,
     "max_queue_size": 64, "timeout_ms": 30000, "version_policy": "latest"}

max_batch_size 0 turns dynamic batching off; version_policy is "latest", "all" or a list of versions.
"""

import json
import os

from .errors import invalid

DEFAULTS = {
    "max_batch_size": 0,        # largest merged batch (sum of dim 0); 0: no dynamic batching
    "max_queue_delay_ms": 1.0,  # how long a batch waits for more requests
    "instance_count": 1,        # sessions (and worker threads) of each version
    "threads": 0,               # intra-op threads of each session (0: one per core)
    "max_queue_size": 64,       # accepted requests waiting for a worker; more get 503 / UNAVAILABLE
    "timeout_ms": 30000,        # per-request limit, queueing included (a request may ask for less)
    "version_policy": "latest",
}

_INT_LIMITS = {"max_batch_size": (0, 1 << 20), "instance_count": (1, 256), "threads": (0, 1024),
               "max_queue_size": (1, 1 << 20)}
_FLOAT_LIMITS = {"max_queue_delay_ms": (0.0, 60000.0), "timeout_ms": (1.0, 86400000.0)}


def check(cfg, where):
    """Merges `cfg` over the defaults; unknown keys and out-of-range values are errors naming `where`."""
    if not isinstance(cfg, dict):
        raise invalid(f"{where}: the configuration must be a JSON object")
    out = dict(DEFAULTS)
    for key, value in cfg.items():
        if key not in DEFAULTS:
            raise invalid(f"{where}: unknown key '{key}' (known: {', '.join(DEFAULTS)})")
        if key in _INT_LIMITS:
            lo, hi = _INT_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise invalid(f"{where}: '{key}' must be an integer in [{lo}, {hi}], got {value!r}")
        elif key in _FLOAT_LIMITS:
            lo, hi = _FLOAT_LIMITS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise invalid(f"{where}: '{key}' must be a number in [{lo}, {hi}], got {value!r}")
        elif key == "version_policy":
            ok = value in ("latest", "all") or (
                isinstance(value, list) and value and all(isinstance(v, int) and v > 0 for v in value))
            if not ok:
                raise invalid(f"{where}: 'version_policy' must be \"latest\", \"all\" or a list of versions, "
                              f"got {value!r}")
        out[key] = value
    return out


def load(model_dir, overrides=None):
    """The checked configuration of a model folder (defaults when it has no config.json)."""
    path = os.path.join(model_dir, "config.json")
    cfg = {}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
        except (OSError, ValueError) as e:
            raise invalid(f"{path}: cannot read the configuration: {e}")
    if overrides:
        if not isinstance(overrides, dict):
            raise invalid("the load request's 'config' parameter must be a JSON object")
        cfg = {**cfg, **overrides}
    return check(cfg, path)
