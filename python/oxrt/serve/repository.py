"""The model repository: REPO/<model>/<version>/model.onnx (+ REPO/<model>/config.json).

Every model found is loaded at start; the repository extension loads, reloads and unloads models
while the server runs. Unloading waits for the requests a version already accepted.
"""

import logging
import os
import re
import threading

from . import config as config_mod
from .errors import ServeError, invalid, not_found
from .model import ModelVersion

log = logging.getLogger("oxrt.serve")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class Repository:
    def __init__(self, root, metrics):
        if not os.path.isdir(root):
            raise invalid(f"model repository '{root}' is not a directory")
        self.root = root
        self.metrics = metrics
        self._lock = threading.Lock()     # guards the tables below
        self._load_lock = threading.Lock()  # one load or unload at a time
        self._models = {}                 # name -> {version: ModelVersion}
        self._reasons = {}                # name -> why the last load failed

    def names_on_disk(self):
        return sorted(n for n in os.listdir(self.root)
                      if _NAME.match(n) and os.path.isdir(os.path.join(self.root, n)))

    def _versions_on_disk(self, model_dir):
        return sorted(int(v) for v in os.listdir(model_dir)
                      if v.isdigit() and int(v) > 0 and os.path.isfile(os.path.join(model_dir, v, "model.onnx")))

    def load_all(self):
        for name in self.names_on_disk():
            try:
                self.load(name)
            except ServeError as e:
                log.error("model not loaded", extra={"model": name, "reason": e.message})

    def load(self, name, overrides=None):
        """(Re)loads a model's versions per its version policy; the old ones drain once replaced."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise invalid(f"model name {name!r} is not a plain folder name")
        model_dir = os.path.join(self.root, name)
        if not os.path.isdir(model_dir):
            raise not_found(f"model '{name}' is not in the repository {self.root}")
        with self._load_lock:
            try:
                cfg = config_mod.load(model_dir, overrides)
                on_disk = self._versions_on_disk(model_dir)
                if not on_disk:
                    raise invalid(f"model '{name}': no version folder with a model.onnx in {model_dir}")
                policy = cfg["version_policy"]
                if policy == "latest":
                    wanted = on_disk[-1:]
                elif policy == "all":
                    wanted = on_disk
                else:
                    absent = [v for v in policy if v not in on_disk]
                    if absent:
                        raise invalid(f"model '{name}': version_policy names version(s) {absent} not in {model_dir}")
                    wanted = sorted(policy)
                loaded = {}
                try:
                    for v in wanted:
                        path = os.path.join(model_dir, str(v), "model.onnx")
                        loaded[v] = ModelVersion(name, v, path, cfg, self.metrics)
                except Exception as e:
                    for m in loaded.values():
                        m.close()
                    if isinstance(e, ServeError):
                        raise
                    raise invalid(f"model '{name}' version {v}: cannot load {path}: {e}")
            except ServeError as e:
                with self._lock:
                    self._reasons[name] = e.message
                raise
            with self._lock:
                old = self._models.get(name, {})
                self._models[name] = loaded
                self._reasons.pop(name, None)
        for m in old.values():
            m.close()
        log.info("model loaded", extra={"model": name, "versions": wanted, "batching": loaded[wanted[-1]].batchable})

    def unload(self, name):
        with self._load_lock:
            with self._lock:
                old = self._models.pop(name, None)
            if old is None:
                raise not_found(f"model '{name}' is not loaded")
            for m in old.values():
                m.close()
        log.info("model unloaded", extra={"model": name})

    def get(self, name, version=None):
        """The loaded version (newest when not given) or a protocol error saying what is missing."""
        with self._lock:
            versions = self._models.get(name)
        if not versions:
            why = self._reasons.get(name)
            if why:
                raise ServeError("unavailable", f"model '{name}' is not loaded: {why}")
            raise not_found(f"model '{name}' is not loaded (loaded: {', '.join(sorted(self._models)) or 'none'})")
        if version in (None, ""):
            return versions[max(versions)]
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise invalid(f"model '{name}': version {version!r} is not an integer")
        if v not in versions:
            raise not_found(f"model '{name}' has no loaded version {v} (loaded: "
                            f"{', '.join(str(x) for x in sorted(versions))})")
        return versions[v]

    def index(self):
        with self._lock:
            loaded = {n: sorted(v) for n, v in self._models.items()}
            reasons = dict(self._reasons)
        out = []
        for name in sorted(set(self.names_on_disk()) | set(loaded)):
            if name in loaded:
                out += [{"name": name, "version": str(v), "state": "READY", "reason": ""} for v in loaded[name]]
            else:
                out.append({"name": name, "version": "", "state": "UNAVAILABLE",
                            "reason": reasons.get(name, "unloaded")})
        return out

    def close_all(self):
        with self._lock:
            models, self._models = self._models, {}
        for versions in models.values():
            for m in versions.values():
                m.close()
