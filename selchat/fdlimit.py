"""Make room for ``--max-clients`` descriptors, or shrink the limit to fit.

Every client costs one descriptor. The soft ``RLIMIT_NOFILE`` (often 1024) is
raised to the hard limit at start; if even that cannot hold every client plus
a reserve, the client limit is lowered so that the server always has a spare
descriptor to accept a newcomer and tell it ``!!! server full``.
"""
import logging

try:
    import resource
except ImportError:  # not POSIX: leave the limit alone
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Descriptors kept back for the listener, the selector, the wake-up pair,
#: stdio, log files, and the one accept that answers "server full".
RESERVE = 32


def fit_max_clients(wanted: int) -> int:
    """Raise the soft descriptor limit; return how many clients fit under it."""
    if resource is None:
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted + RESERVE if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit to %d: %s", target, exc)
    if soft == resource.RLIM_INFINITY or soft - RESERVE >= wanted:
        return wanted
    fitted = max(1, soft - RESERVE)
    log.warning(
        "open-file limit %d holds only %d clients: max clients lowered from %d",
        soft, fitted, wanted,
    )
    return fitted
