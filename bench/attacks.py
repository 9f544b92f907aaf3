"""The attack harnesses ``flood.py --attack NAME`` runs: one table, NAME -> the
module that measures it and the arguments that pick the attack there.

Each harness starts its own server(s) on loopback, attacks for a bounded time,
and reports what the attack cost the server (CPU, RSS) and the people chatting
meanwhile (latency, lost lines); see docs/benchmarks.rst. The options after
``--attack NAME`` are the harness's own (``python bench/attack_web.py --help``,
``attack_room.py --help``, ``attack_bus.py --help``).
"""
import importlib
from typing import Dict, List, Tuple

#: NAME -> (module beside this one, its arguments that choose the attack).
ATTACKS: Dict[str, Tuple[str, List[str]]] = {
    "frames": ("attack_web", ["--attack", "frames"]),  # WebSocket frames that carry no line
    "pipeline": ("attack_web", ["--attack", "pipeline"]),  # pipelined HTTP scrapes
    "who": ("attack_room", ["--attack", "who"]),  # /who PATTERN bursts in a big room
    "held": ("attack_room", ["--attack", "held"]),  # held sessions from one address
    "replay": ("attack_room", ["--attack", "replay"]),  # resumers asking for all history
    "bus-loss": ("attack_bus", []),  # Redis losing its data mid-burst; the outbox's weight
}


def run(name: str, rest: List[str]) -> int:
    """Run attack `name` with the harness's own options `rest`; its exit status."""
    module, chosen = ATTACKS[name]
    return int(importlib.import_module(module).main([*chosen, *rest]))
