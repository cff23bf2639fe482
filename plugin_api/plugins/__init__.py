"""The bundled plugins, loaded by name with `-plugin NAME[,key=value...]` (docs/PLUGINS.md)."""
