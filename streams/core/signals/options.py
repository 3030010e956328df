"""How the collaborative signals learn: decay, the co-occurrence window, neighbour caps."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignalOptions:
    """How the collaborative signals learn."""

    half_life_days: float = 30.0  # popularity and co-occurrence forget at this pace
    window: int = 20  # a new interaction pairs with this many of the user's previous items
    position_decay: float = 0.85  # the k-th previous item pairs with weight position_decay**k
    # how a pair splits between the two rows: the earlier item's row learns that X came after it (forward),
    # X's row that the earlier item came before it (backward); 1 and 1 is plain co-occurrence, forward > backward
    # makes the rows transitions (what tends to come next)
    forward: float = 1.0
    backward: float = 1.0
    max_neighbours: int = 300  # neighbours kept per item (the weakest are pruned beyond this)
    # Popularity is log-scaled relative to max(peak, this many decayed interactions): in a shop's first
    # minutes one view by one shopper would otherwise make an item as "popular" as it gets and outweigh
    # a strong content match for everyone else.
    popularity_floor: float = 20.0

    @property
    def half_life_seconds(self) -> float:
        """Half-life in seconds."""
        return self.half_life_days * 86400.0
