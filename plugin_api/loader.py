"""Finding and loading plugins named on the command line: `NAME|PATH.py[,key=value...]`.

A bundled plugin is named by its module name in plugin_api/plugins/; anything ending in `.py`
is a file. Every `-plugin` gets a module object of its own, so the same plugin may be loaded
twice with different arguments (qemu copies the shared object for the same reason).
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jit.plugins import PluginError, PluginLoadError

BUNDLED_DIR = Path(__file__).resolve().parent / "plugins"
_instances = itertools.count(1)


@dataclass(frozen=True)
class PluginSpec:
    """One -plugin option: what to load and its `key=value` arguments."""

    target: str
    args: tuple[str, ...]

    @property
    def is_file(self) -> bool:
        return self.target.endswith(".py")

    @property
    def name(self) -> str:
        """How messages name the plugin: the bundled name or the file's stem."""
        return Path(self.target).stem if self.is_file else self.target


def parse_plugin_option(text: str) -> PluginSpec:
    """`NAME|PATH.py[,key=value...]` -> PluginSpec; PluginLoadError for a malformed one."""
    target, *args = text.split(",")
    if not target:
        raise PluginLoadError(f"-plugin {text}: no plugin name or file")
    for argument in args:
        key, sep, _value = argument.partition("=")
        if not sep or not key:
            raise PluginLoadError(f"-plugin {text}: argument '{argument}' is not key=value")
    return PluginSpec(target, tuple(args))


def bundled_plugins() -> list[str]:
    return sorted(path.stem for path in BUNDLED_DIR.glob("*.py") if path.stem != "__init__")


def load_module(spec: PluginSpec):
    """A fresh module object for the plugin (its code run once more)."""
    if spec.is_file:
        path = Path(spec.target)
        if not path.is_file():
            raise PluginLoadError(f"cannot load plugin {spec.target}: no such file")
    else:
        if spec.target not in bundled_plugins():
            raise PluginLoadError(f"unknown plugin '{spec.target}' (bundled: "
                                  f"{', '.join(bundled_plugins())}; or give a path to a .py file)")
        path = BUNDLED_DIR / f"{spec.target}.py"
    module_name = f"tcgjit_plugin_{next(_instances)}_{spec.name}"
    module_spec = importlib.util.spec_from_file_location(module_name, os.fspath(path))
    module = importlib.util.module_from_spec(module_spec)
    # Registered like an imported module: dataclasses, pickle and friends look it up there.
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as error:
        raise PluginLoadError(f"cannot load plugin {spec.target}: syntax error at line "
                              f"{error.lineno}: {error.msg}") from None
    except Exception as error:
        raise PluginError(spec.name, error) from None
    return module
