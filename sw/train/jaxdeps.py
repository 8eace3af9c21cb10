"""JAX and optax through the ``train`` extra (a one-line error naming it when missing)."""

from __future__ import annotations

from types import ModuleType

from sw.extras import require

__all__ = ["jax_modules"]


def jax_modules(feature: str) -> tuple[ModuleType, ModuleType, ModuleType]:
    """``(jax, jax.numpy, jax.lax)`` or :class:`sw.extras.MissingExtra` naming ``feature``."""
    jax = require("jax", "train", feature)
    return jax, require("jax.numpy", "train", feature), require("jax.lax", "train", feature)
