"""Make room for ``--max-clients`` descriptors, or shrink the limit to fit.

Every client costs one descriptor. The soft ``RLIMIT_NOFILE`` (often 1024) is
raised at start to what the clients need, up to the hard limit; a hard limit
that is too low is raised too when the process may (root, or
``CAP_SYS_RESOURCE``; at most ``fs.nr_open``), as Redis' ``adjustOpenFilesLimit``
does. If the limit still cannot hold every client plus a reserve, the client
limit is lowered so that the server always has a spare descriptor to accept a
newcomer and tell it ``!!! server full``. Anyone else raises the hard limit
before starting the server: ``ulimit -n``, systemd's ``LimitNOFILE=``, or
``/etc/security/limits.conf``.
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
    if hard != resource.RLIM_INFINITY and hard < wanted + RESERVE:
        try:  # only a privileged process may raise the hard limit
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted + RESERVE, wanted + RESERVE))
            soft = hard = wanted + RESERVE
        except (ValueError, OSError):
            pass
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
