"""Suite files: YAML with includes and ``${VAR}`` expansion -> the validated :class:`~.suite.Suite`
and its typed :class:`~.settings.Settings` (one table of every top-level key).
"""
