"""Ray placement, in one place: which nodes are eligible and how an actor is pinned to one.

Used by the Ray sandbox pool (`envs.rock.ray_pool`: one actor per sandbox, spread by load) and
by RL env workers (`rl.workers`: round-robin over the nodes). Pinning is hard node affinity:
soft affinity let Ray put every actor on the head node.
"""

from __future__ import annotations

from typing import Any


def eligible_nodes(nodes: list[dict[str, Any]], node_resource: str | None = None) -> list[str]:
    """Node ids of alive `ray.nodes()` entries that have `node_resource` (any, if None)."""
    return [
        str(n["NodeID"])
        for n in nodes
        if n.get("Alive")
        and (node_resource is None or n.get("Resources", {}).get(node_resource, 0) > 0)
    ]


def alive_nodes(node_resource: str | None = None) -> list[str]:
    """`eligible_nodes` of the connected Ray cluster, sorted (a stable round-robin order)."""
    import ray

    return sorted(eligible_nodes(ray.nodes(), node_resource))


def pick_spread(nodes: list[str], load: dict[str, int]) -> str:
    """The node with the fewest live actors (first in `nodes` order on ties)."""
    return min(nodes, key=lambda n: (load.get(n, 0), nodes.index(n)))


def pinned(node: str) -> dict[str, Any]:
    """Actor options that place it on `node` and nowhere else (hard node affinity)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=False)}
