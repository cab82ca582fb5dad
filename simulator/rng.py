"""Seeds and random streams.

One seed per run. Each component draws from its own stream, derived from the run's
``SeedSequence`` and a stable hash of the component's name (not its position), so adding or
changing one facility leaves every other facility's random numbers unchanged: common random
numbers across the scenarios of a sweep.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["Streams", "BlockSampler", "replication_seeds"]


class Streams:
    """Named, independent generators derived from one seed."""

    def __init__(self, seed: int | np.random.SeedSequence):
        self.root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)

    def generator(self, *names: str) -> np.random.Generator:
        """The generator for a component and purpose, e.g. ``generator("cn_mine", "output")``."""
        key = tuple(zlib.crc32(name.encode()) for name in names)
        child = np.random.SeedSequence(self.root.entropy, spawn_key=self.root.spawn_key + key)
        return np.random.Generator(np.random.PCG64(child))


class BlockSampler:
    """Draws random values in blocks (one numpy call per ``block`` values) and hands them out.

    ``draw(rng, n)`` returns ``n`` values; ``sampler()`` returns the next one as a float.
    """

    __slots__ = ("_draw", "_rng", "_block", "_values")

    def __init__(self, draw: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator, block: int = 256):
        self._draw, self._rng, self._block = draw, rng, block
        self._values = iter(())  # the block being handed out

    def __call__(self) -> float:
        try:
            return next(self._values)
        except StopIteration:  # a new block (an iterator over a list: the cheapest hand-out)
            self._values = iter(self._draw(self._rng, self._block).tolist())
            return next(self._values)


def uniform_sampler(rng: np.random.Generator, block: int = 256) -> BlockSampler:
    """U(0, 1) draws in blocks, for Bernoulli decisions."""
    return BlockSampler(lambda g, n: g.random(n), rng, block)


def replication_seeds(seed: int, n: int) -> list[int]:
    """``n`` independent child seeds for replications of a run seeded ``seed``."""
    return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in np.random.SeedSequence(seed).spawn(n)]
