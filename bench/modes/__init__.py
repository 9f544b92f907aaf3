"""What a run does besides its messages: one module per mode, one row each in `MODES`.

The swarm drives every client and counts every message; a mode is an object
it calls at a few points of the run (`base.Mode`) and whose figures go in the
result under its name. To add one: write its module here (a `Mode` subclass;
`storm` is one with clients of its own), declare its options in flood.py's
`OPTIONS` with their bounds and the mode's name (``--help`` groups them under
it), and add its row below. Its options reach it through the row's `options`
(no `swarm.Scenario` field needed); its `result()` reaches `report.figures` as
``raw[name]``, where the figures and summary lines it wants are given their
place.
"""
from typing import Callable, Dict, List, Optional

from modes.base import Mode
from modes.churn import Churn
from modes.outage import BusOutage
from modes.storm import Storm
from nodes import Cluster, Outage

#: Every mode, in the order the swarm calls them: its name, and how a run makes
#: it from the scenario (`swarm.Scenario`), flood.py's options and the
#: processes under test, or None when the run has none.
MODES: Dict[str, Callable[..., Optional[Mode]]] = {
    "churn": lambda scenario, options, cluster: Churn(scenario) if scenario.churn else None,
    "storm": lambda scenario, options, cluster: Storm(scenario) if scenario.burst else None,
    "outage": lambda scenario, options, cluster: BusOutage(Outage(
        cluster.bus, options.bus_outage, options.bus_outage_seconds))
    if options.bus_outage else None,
}


def make(scenario, options, cluster: Cluster) -> List[Mode]:
    """The modes of one run, in `MODES` order."""
    made = (build(scenario, options, cluster) for build in MODES.values())
    return [mode for mode in made if mode is not None]
