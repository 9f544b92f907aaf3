"""The IRC servers ``--transport irc`` compares selchat with: Debian's ngIRCd
and InspIRCd, each configured here for a fair load test.

Each run gets a temporary directory with the server's configuration, its pid
file and log, and a free loopback port; the server runs in the foreground
(ngIRCd ``--nodaemon``, InspIRCd ``--nofork``) so the bench meters and stops
its own process, and the directory goes with it. What the configurations
change from the servers' defaults, and why:

* flood penalties off (ngIRCd ``MaxPenaltyTime = 0``; InspIRCd ``fakelag="no"``,
  and a flood threshold and command rate so high that no client reaches
  them: 0 would mean "none allowed") and no per-address limit:
  every bench client comes from 127.0.0.1 and senders send as fast as they may;
* send queues as large as selchat's hard output limit (32 MiB: InspIRCd's
  ``hardsendq``/``softsendq``); ngIRCd's write buffer is fixed when it is
  built (docs/benchmarks.rst says what that means for a run);
* no DNS or ident lookups (each would wait on a resolver for every client),
  idle pings an hour apart (receivers answer PINGs, but one costs a read the
  fast path), nicks up to 16 characters, any number of channels per client.
"""
import shutil
from pathlib import Path
from typing import List, Optional

#: Where Debian puts them (not on a non-root PATH).
SBIN = "/usr/sbin:/usr/local/sbin"
#: selchat's hard output limit (selchat.limits.Limits.max_output).
SEND_QUEUE = 32 * 1024 * 1024

NGIRCD_CONF = """\
[Global]
    Name = bench.ngircd
    Info = selchat bench peer
    AdminInfo1 = selchat bench
    AdminEMail = bench@localhost
    Listen = 127.0.0.1
    Ports = {port}
    PidFile = {folder}/ngircd.pid
    MotdPhrase = selchat bench
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxNickLength = 16
    MaxPenaltyTime = 0
    PingTimeout = 3600
    PongTimeout = 3600
[Options]
    DNS = no
    Ident = no
    PAM = no
"""

INSPIRCD_CONF = """\
<server name="bench.inspircd" description="selchat bench peer" network="bench">
<admin name="selchat bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect allow="*" timeout="60" pingfreq="3600" threshold="1000000" commandrate="1000000000"
         fakelag="no"
         hardsendq="{sendq}" softsendq="{sendq}" recvq="65536" localmax="{clients}"
         globalmax="{clients}" limit="{clients}" maxconnwarn="off" resolvehostnames="no"
         useident="no" maxchans="100">
<channels users="100" opers="100">
<pid file="{folder}/inspircd.pid">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{folder}/inspircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes">
<performance somaxconn="4096" softlimit="{clients}" clonesonconnect="no" quietbursts="yes">
<security hideserver="" userstats="Pu" maxtargets="20">
<limits maxnick="16" maxchan="64" maxtopic="307">
<path moduledir="/usr/lib/inspircd/modules" datadir="{folder}" logdir="{folder}"
      runtimedir="{folder}" configdir="{folder}">
"""

KINDS = ("ngircd", "inspircd")
#: Connections the harness may have opened and not yet joined, per server (the
#: harness's own default is far larger): ngIRCd listens with a backlog of 10,
#: fixed when it is built, and the connects past it are SYNs the kernel drops
#: and the client sends again one, three, seven... seconds later.
CONNECT_WINDOW = {"ngircd": 8}


def program(kind: str) -> Optional[str]:
    """The server's executable, on PATH or in Debian's sbin, or None."""
    return shutil.which(kind) or shutil.which(kind, path=SBIN)


def command(kind: str, folder: str, port: int, max_clients: int) -> List[str]:
    """Write `kind`'s configuration into `folder` (for `port` and `max_clients`
    connections) and return the command line that runs it in the foreground."""
    path = Path(folder)
    exe = program(kind) or kind
    if kind == "ngircd":
        # ngIRCd started as root drops to "nobody", which must write its pid file.
        path.chmod(0o777)
        conf = path / "ngircd.conf"
        conf.write_text(NGIRCD_CONF.format(port=port, folder=folder))
        return [exe, "--nodaemon", "--config", str(conf)]
    if kind == "inspircd":
        conf = path / "inspircd.conf"
        conf.write_text(INSPIRCD_CONF.format(port=port, folder=folder, sendq=SEND_QUEUE,
                                             clients=max_clients))
        return [exe, f"--config={conf}", "--nofork", "--runasroot"]
    raise ValueError(f"not an IRC server the bench knows: {kind!r}")
