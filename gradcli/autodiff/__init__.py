"""Autodiff: the op table (ops), the engine's loops over a program (engine), finite differences (fd)."""
