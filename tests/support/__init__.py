"""What tests share, one concern per module (fixtures stay in tests/conftest.py):

- `constants`: TIMEOUT, MiB, the server's fixed lines, the repository's paths.
- `waiting`: wait on a condition or a pipe with a deadline, never a fixed sleep.
- `servers`: `selchat serve` (or any server) as a process; the installed command.
- `clients`: a raw TCP line client with deadlines, and what misbehaving-client
  tests do with it (read in gulps, reset, join when there is room).
- `flood`: a flood's answers with their times, checked against the token bucket.
- `resume`: a client that asked for /tags, dropped, held and resumed.
- `join_client`: `selchat join` as a process, and a scripted server for it.
- `fake_loop`: the server in this process, pass by pass, on a clock moved by hand.
- `redis_server`: a real redis-server of the test's own.
- `page_rooms`: the page's room list in Chromium, and room lines scripted into it.
"""
