"""Who may receive a value that a pointer refers to: each owner's allowance, intersected.

A value's owners are the players whose data it carries: the sender of what was sent, the player of
what it defined itself, the union of both for a value computed from several. Each owner allows a
set of players (itself, and whom it granted); a player may receive the value when every owner
allows it. So a value computed from alice's data and the client's weights reaches the client only
if alice allowed the client, and alice only if the client allowed alice.
"""

from __future__ import annotations

from typing import Iterable, Mapping


class Policy:
    """Owner -> the players it allows to receive the value (the owner included). Immutable."""

    __slots__ = ("_allowed",)

    def __init__(self, allowed: Mapping[str, Iterable[str]]):
        if not allowed:
            raise ValueError("a policy needs at least one owner")
        self._allowed = {owner: frozenset(players) | {owner} for owner, players in allowed.items()}

    @classmethod
    def owned_by(cls, owner: str, readers: Iterable[str] = ()) -> "Policy":
        """A value of `owner` alone, which it allows `readers` to receive besides itself."""
        return cls({owner: readers})

    @property
    def owners(self) -> frozenset[str]:
        return frozenset(self._allowed)

    @property
    def readers(self) -> frozenset[str]:
        """The players every owner allows."""
        return frozenset.intersection(*self._allowed.values())

    def allowed_by(self, owner: str) -> frozenset[str]:
        return self._allowed[owner]

    def granting(self, owner: str, player: str) -> "Policy":
        """This policy with `owner` also allowing `player`."""
        return Policy({**self._allowed, owner: self._allowed[owner] | {player}})

    def join(self, other: "Policy") -> "Policy":
        """The policy of a value computed from both: every owner of either, each allowing what it allowed
        in both (an owner's grant on one operand does not extend to the other)."""
        merged = dict(self._allowed)
        for owner, players in other._allowed.items():
            merged[owner] = merged[owner] & players if owner in merged else players
        return Policy(merged)

    @staticmethod
    def join_all(policies: Iterable["Policy"]) -> "Policy":
        policies = list(policies)
        result = policies[0]
        for policy in policies[1:]:
            result = result.join(policy)
        return result

    def __eq__(self, other) -> bool:
        return isinstance(other, Policy) and self._allowed == other._allowed

    def __hash__(self) -> int:
        return hash(frozenset(self._allowed.items()))

    def __repr__(self) -> str:
        parts = ", ".join(f"{owner!r}: {sorted(players)}" for owner, players in sorted(self._allowed.items()))
        return f"Policy({{{parts}}})"
