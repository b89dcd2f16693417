"""Built-in metrics, one module each; registered by :data:`wetok_bench.metrics.registry._BUILTIN`."""
