"""`selchat serve --workers N`: a parent that supervises N servers sharing its ports."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List

import psutil
import pytest
from support.clients import LineClient, read_until
from support.constants import TIMEOUT
from support.resume import Tagged, resume
from support.servers import ServerProcess, selchat
from support.waiting import readline_with_deadline, wait_for

from selchat.workers import STOP_DEADLINE

STARTED = re.compile(r"INFO selchat.workers: worker (\d+) started: pid (\d+)")
NEEDS_BUS = ("selchat: --workers needs --bus: without a shared bus each worker would be a "
             "separate room (see 'selchat serve -h')\n")


@pytest.fixture
def bus(redis_server) -> str:
    """The --bus the workers share: a Redis of the test's own."""
    return redis_server.url


@pytest.fixture
def workers(bus):
    """workers(n, *serve_args) -> ServerProcess running n workers; killed at teardown,
    with any worker left behind."""
    started: List[ServerProcess] = []

    def start(count: int, *args: str, **kwargs) -> ServerProcess:
        server = ServerProcess("--workers", str(count), "--bus", bus, *args, **kwargs)
        started.append(server)
        wait_for(lambda: len(children(server)) == count)
        return server

    yield start
    for server in started:
        left = children(server) if server.proc.poll() is None else []
        if server.proc.poll() is None:
            server.stop(signal.SIGKILL)
        for child in left:
            child.kill()


def children(server: ServerProcess) -> List[psutil.Process]:
    try:
        return psutil.Process(server.proc.pid).children()
    except psutil.NoSuchProcess:
        return []


def pids(server: ServerProcess) -> set:
    return {child.pid for child in children(server)}


def started(server: ServerProcess) -> Dict[int, int]:
    """Each worker's number and its latest pid, from the parent's log."""
    return {int(number): int(pid) for number, pid in STARTED.findall(server.log())}


def tcp(proc: psutil.Process) -> list:
    """The process's TCP sockets (psutil 6 renamed connections to net_connections)."""
    return getattr(proc, "net_connections", proc.connections)(kind="tcp")


def listens_on(proc: psutil.Process, port: int) -> bool:
    return any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in tcp(proc))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("args, env", [
    (["--workers", "2"], {}),
    ([], {"SELCHAT_WORKERS": "2"}),
    (["--workers", "0"], {}),  # one per CPU: refused alike on a one-CPU machine
])
def test_workers_without_a_bus_are_refused(args, env):
    result = selchat("serve", "--port", "0", "--no-web", *args, env=env)
    assert (result.returncode, result.stderr) == (2, NEEDS_BUS)


def test_help_says_what_0_means():
    assert "0: one per CPU" in " ".join(selchat("serve", "-h").stdout.split())


def test_startup_lines_are_printed_once_when_every_worker_listens(bus):
    command = [sys.executable, "-m", "selchat", "serve", "--port", "0", "--web-port", "0",
               "--workers", "2", "--bus", bus, "--no-data"]
    on_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PATH": on_path})  # the hint: "selchat join"
    try:
        lines = [readline_with_deadline(proc.stdout, TIMEOUT).decode()]
        while lines[-1] not in ("stop with Ctrl-C\n", ""):
            lines.append(proc.stdout.readline().decode())
        port = int(lines[0].rsplit(":", 1)[1])
        web_port = int(lines[1].rstrip("/\n").rsplit(":", 1)[1])
        assert lines == [f"selchat listening on 127.0.0.1:{port}\n",
                         f"selchat web page on http://127.0.0.1:{web_port}/\n",
                         f"selchat shares its room through {bus}/0\n",
                         "selchat workers: 2\n",
                         f"join with: selchat join NAME --port {port}\n",
                         "stop with Ctrl-C\n"]
        workers = psutil.Process(proc.pid).children()
        assert len(workers) == 2  # and each listens on both ports itself
        assert all(listens_on(w, port) and listens_on(w, web_port) for w in workers)
        assert not listens_on(psutil.Process(proc.pid), port)  # the parent only holds it
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
        assert (proc.returncode, out) == (0, b"")  # nothing more, from nobody
        log = err.decode()
        assert log.count(f"INFO selchat.cli: listening on 127.0.0.1:{port}\n") == 1
        assert " worker 1 INFO selchat.server: shutting down" in log
        assert " worker 2 INFO selchat.server: shutting down" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_connections_are_spread_over_the_workers(workers):
    server = workers(2)
    clients = [LineClient(server.address) for _ in range(40)]
    try:
        for client in clients:
            client.expect("*** Hello! Please enter your name.")
        held = {child.pid: sum(c.status == psutil.CONN_ESTABLISHED
                               and c.laddr.port == server.port for c in tcp(child))
                for child in children(server)}
        assert sum(held.values()) == 40
        assert all(held.values()), held
    finally:
        for client in clients:
            client.close()


def test_members_on_every_worker_are_one_room(workers):
    server = workers(2)
    members = [LineClient(server.address, f"m{n}") for n in range(12)]
    try:
        read_until(members[0], "*** m11 has joined the chat room.")  # from both workers
        members[0].send("/who")
        read_until(members[0], "*** Online (12): " + ", ".join(sorted(f"m{n}" for n in range(12))))
        members[-1].send("hello, every worker")
        for member in members[:-1]:
            read_until(member, "<m11> hello, every worker")
    finally:
        for member in members:
            member.close()


def test_a_killed_worker_is_restarted_and_the_port_still_serves(workers):
    server = workers(2)
    before = pids(server)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    (new,) = wait_for(lambda: pids(server) - before)
    wait_for(lambda: listens_on(psutil.Process(new), server.port))
    clients = [LineClient(server.address, f"user{n}") for n in range(20)]
    for client in clients:
        client.close()
    assert f"(pid {victim}) was killed by SIGKILL; restarting it" in server.log()


def test_members_of_a_killed_worker_resume_on_another_without_a_word(workers):
    server = workers(2)
    watchers = [LineClient(server.address, f"w{n}") for n in range(6)]  # on both workers
    alice = Tagged(server.address, "alice")
    try:
        for watcher in watchers:
            read_until(watcher, "*** alice has joined the chat room.")
        watchers[0].send("before")
        alice.until("<w0> before")
        home = worker_of(server, alice)
        survivors = [w for w in watchers if worker_of(server, w).pid != home.pid]
        home.kill()
        home.wait(TIMEOUT)  # its listening socket gone: a connection goes to another worker
        alice.drop()
        back = resume(server.address, alice.token, alice.last_seq)
        assert back.text() == "*** Welcome back, alice."
        back.send("still here")
        for watcher in survivors:
            lines = read_until(watcher, "<alice> still here")
            assert not any("alice has left" in line for line in lines)
    finally:
        for client in watchers:
            client.close()


def worker_of(server: ServerProcess, client: LineClient) -> psutil.Process:
    """The worker holding the server side of `client`'s connection."""
    port = client.sock.getsockname()[1]
    return next(child for child in children(server)
                if any(c.raddr and c.raddr.port == port for c in tcp(child)))


def test_a_crash_looping_worker_is_restarted_at_most_once_a_second(workers):
    server = workers(2)
    first = psutil.Process(started(server)[1])
    first.kill()
    second = psutil.Process(wait_for(lambda: started(server)[1] != first.pid
                                     and started(server)[1]))
    second.kill()
    third = psutil.Process(wait_for(lambda: started(server)[1] != second.pid
                                    and started(server)[1]))
    assert third.create_time() - second.create_time() >= 0.95
    assert len(pids(server)) == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_gracefully_and_the_parent_exits_0(workers, sig):
    server = workers(2)
    clients = [LineClient(server.address, f"user{n}") for n in range(10)]
    left = pids(server)
    started = time.monotonic()
    assert server.stop(sig) == 0
    assert time.monotonic() - started < STOP_DEADLINE
    for client in clients:  # each told by its own worker
        assert client.expect_closed().endswith(b"*** Server is shutting down.\n")
        client.close()
    assert all(gone(pid) for pid in left)


def test_a_worker_that_does_not_stop_is_killed_and_the_exit_is_not_0(workers):
    server = workers(2)
    stuck = started(server)[2]
    os.kill(stuck, signal.SIGSTOP)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(STOP_DEADLINE + TIMEOUT) == 1
    assert server.log().endswith(
        f"selchat: worker 2 did not stop within {STOP_DEADLINE:g} s: killed\n")
    assert gone(stuck)


def test_a_busy_port_is_one_line_from_the_parent(bus):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = selchat("serve", "--port", str(port), "--no-web", "--workers", "2",
                         "--bus", bus)
    assert (result.returncode, result.stderr) == (
        1, f"selchat: cannot listen on 127.0.0.1 port {port}: address already in use "
           "(is another selchat running? try --port)\n")


def test_workers_do_not_join_another_servers_port(workers, bus):
    """SO_REUSEPORT would let a second server of the same user share the port."""
    server = workers(2)
    result = selchat("serve", "--port", str(server.port), "--no-web", "--workers", "2",
                     "--bus", bus)
    assert result.returncode == 1
    assert "address already in use" in result.stderr
