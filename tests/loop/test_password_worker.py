"""The hashing worker's pipe in the loop: a slow hash never stalls the room."""
from selchat.accounts.driver import AccountOptions

#: A costly hash (16 MiB, 50 ms or more): far longer than the few passes a
#: line takes, so the room is seen going on while the worker hashes.
SLOW_N = 2 ** 14
#: The worker runs at nice 19: on a test machine busy with other work it gets
#: little CPU, and its answer may take many seconds (the room's never do).
WORKER_WAIT = 60.0


def test_a_slow_hash_does_not_stall_the_room(in_process_server):
    loop = in_process_server(flood_rate=0)
    loop.server.accounts.options = AccountOptions(scrypt_n=SLOW_N)
    alice, bob = loop.peer("alice"), loop.peer("bob")
    alice.send("/register a-slow-secret")
    loop.run(1)
    hasher = loop.server.accounts._hasher
    assert hasher is not None and hasher.pending == 1
    bob.send("said while alice's password is hashed")
    loop.until(lambda: "<bob> said while alice's password is hashed" in alice.lines)
    assert hasher.pending == 1  # the room went on; the worker is still at it
    loop.until(lambda: any("alice is registered to you" in line for line in alice.lines),
               WORKER_WAIT)
    assert loop.server.accounts.authority.accounts["alice"].hash.startswith(f"scrypt${SLOW_N}$")


def test_a_worker_that_dies_is_replaced_and_its_checks_answered(in_process_server):
    loop = in_process_server(flood_rate=0)
    loop.server.accounts.options = AccountOptions(scrypt_n=SLOW_N)
    alice = loop.peer("alice")
    alice.send("/register a-slow-secret")
    loop.run(1)
    hasher = loop.server.accounts._hasher
    assert hasher is not None and hasher._worker is not None
    hasher._worker.kill()
    loop.until(lambda: "!!! the password could not be checked now: try again" in alice.lines)
    alice.send("/register a-slow-secret")
    loop.until(lambda: any("alice is registered to you" in line for line in alice.lines),
               WORKER_WAIT)
