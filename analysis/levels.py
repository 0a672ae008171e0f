"""From counts per rating to tallies, each scale version read by its own definition.

A scale version's levels say which ratings count as satisfied and what each
weighs in the 0–100 index. Votes keep the version they were cast with, so a
tally maps every (version, rating) pair through that version's own levels and
only then adds: an old four-level vote and a new five-level vote can sit in
one month without either being read with the other's meaning.

Tallies add (``a + b``); every rollup (unit, centre, province, quarter, year)
is a sum of tallies, never an average of rates.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LevelInfo:
    """What one rating of one scale version means for the scores."""

    value: int
    satisfied: bool
    weight: float  # 0..100, the level's contribution to the index
    rank: int  # 0 = the lowest level of its scale
    top: bool  # the highest level of its scale


def describe_scale(levels):
    """``{rating value: LevelInfo}`` for one version's levels as stored.

    ``satisfied`` defaults to ``not negative`` (the first scale only had
    ``negative``); ``weight`` defaults to the even spread from the lowest
    value (0) to the highest (100), what migration scores_003 writes.
    """
    values = sorted(int(level["value"]) for level in levels)
    if not values:
        raise ValueError("a scale needs at least one level")
    low, high = values[0], values[-1]
    info = {}
    for level in levels:
        value = int(level["value"])
        satisfied = level.get("satisfied")
        if satisfied is None:
            satisfied = not level.get("negative", False)
        weight = level.get("weight")
        if weight is None:
            weight = 100.0 * (value - low) / (high - low) if high > low else 100.0
        weight = float(weight)
        if not 0.0 <= weight <= 100.0:
            raise ValueError(f"level {value}: weight {weight} is outside 0..100")
        info[value] = LevelInfo(value, bool(satisfied), weight, values.index(value), value == high)
    return info


@dataclass(frozen=True, eq=True)
class Tally:
    """Votes counted for one subject: how many, how many satisfied, the sum of
    the levels' weights, and the count per (scale version, rating)."""

    n: int = 0
    satisfied: int = 0
    weight_sum: float = 0.0
    by_level: dict = field(default_factory=dict)

    __hash__ = None  # by_level is a dict: a tally is a value, not a key

    def __add__(self, other):
        if not isinstance(other, Tally):
            return NotImplemented
        by_level = dict(self.by_level)
        for key, count in other.by_level.items():
            by_level[key] = by_level.get(key, 0) + count
        return Tally(
            self.n + other.n, self.satisfied + other.satisfied, self.weight_sum + other.weight_sum, by_level
        )

    def __radd__(self, other):
        # sum(tallies) starts from 0
        if other == 0:
            return self
        return NotImplemented

    @property
    def rate(self):
        """Share of satisfied votes, None without votes."""
        return self.satisfied / self.n if self.n else None

    @property
    def index(self):
        """Mean of the levels' weights (0–100), None without votes."""
        return self.weight_sum / self.n if self.n else None


def tally(counts, scales):
    """Tally ``{(scale_version, rating): n}`` with ``scales`` = ``{version: levels}``.

    Each pair is read by its own version's levels. A version or rating the
    scales do not know raises ``ValueError``: a vote nobody can interpret must
    not be silently dropped or guessed.
    """
    described = {}
    n = satisfied = 0
    weight_sum = 0.0
    by_level = {}
    for (version, rating), count in counts.items():
        count = int(count)
        if count < 0:
            raise ValueError(f"negative count for version {version}, rating {rating}")
        if count == 0:
            continue
        if version not in described:
            if version not in scales:
                raise ValueError(f"unknown scale version {version}")
            described[version] = describe_scale(scales[version])
        info = described[version].get(int(rating))
        if info is None:
            raise ValueError(f"rating {rating} is not a level of scale version {version}")
        n += count
        satisfied += count if info.satisfied else 0
        weight_sum += count * info.weight
        key = (version, int(rating))
        by_level[key] = by_level.get(key, 0) + count
    return Tally(n, satisfied, weight_sum, by_level)
