"""Test plugin: counts the code cache flushes it is told about (the flush callback) and prints
`flushes: N` on stderr at exit."""
from __future__ import annotations

import sys

import plugin_api as api


class FlushCounter:
    def __init__(self):
        self.flushes = 0

    def on_flush(self, plugin_id: int) -> None:
        self.flushes += 1

    def on_exit(self, plugin_id: int, userdata) -> None:
        sys.stderr.write(f"flushes: {self.flushes}\n")
        sys.stderr.flush()


def install(plugin_id: int, info: api.PluginInfo, args: list[str]) -> None:
    counter = FlushCounter()
    api.register_flush_cb(plugin_id, counter.on_flush)
    api.register_atexit_cb(plugin_id, counter.on_exit)
