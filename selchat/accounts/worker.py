"""The password hashing process: requests on stdin, answers on stdout, one
line each (`selchat.accounts.passwords.Request`), in order.

scrypt takes tens of milliseconds of one CPU by design; in the server's loop
that would stall every room. Here it stalls nobody: the server's side of the
two pipes is non-blocking and in its selector (`selchat.accounts.hasher`).
Nothing is logged: passwords pass through, never printed.
"""
import os
import sys

from selchat.accounts.passwords import SALT_BYTES, Request, answer

#: The worker's nice value: the hashes take only the CPU the loop leaves, so
#: on a busy machine logins wait, and chat does not (the loop is at 0).
NICENESS = 19


def main() -> None:
    os.nice(NICENESS)
    for line in sys.stdin.buffer:
        request = Request.parse(line)
        if request is None:  # the server never sends one: skip it, never guess
            continue
        sys.stdout.buffer.write(answer(request, os.urandom(SALT_BYTES)))
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
