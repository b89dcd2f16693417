"""Tokenizers: the interface, the registry and one module per family."""

from wetok_bench.tokenizers.base import (
    Compression,
    Tokenizer,
    continuous_compression,
    discrete_compression,
)
from wetok_bench.tokenizers.registry import create_tokenizer, register_tokenizer, tokenizer_types

__all__ = [
    "Compression",
    "Tokenizer",
    "continuous_compression",
    "create_tokenizer",
    "discrete_compression",
    "register_tokenizer",
    "tokenizer_types",
]
