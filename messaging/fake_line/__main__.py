"""Run the fake LINE server standalone: ``python -m messaging.fake_line --port 8099``.

Prints the base URL on the first line of stdout, then serves until killed
(Ctrl-C or SIGTERM). Seed it through the ``/__fake__/`` control plane, or with
``--channel TOKEN`` / ``--user USER_ID[:DISPLAY NAME]``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import FakeLineServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m messaging.fake_line", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099, help="0 picks a free port (default 8099)")
    parser.add_argument("--accept-any-token", action="store_true",
                        help="accept any Bearer token and auto-create unknown user IDs")
    parser.add_argument("--reply-token-ttl", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--channel", action="append", default=[], metavar="TOKEN",
                        help="register a channel access token (repeatable)")
    parser.add_argument("--user", action="append", default=[], metavar="USER_ID[:NAME]",
                        help="add a friend user (repeatable)")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    fake = FakeLineServer(host=args.host, port=args.port, accept_any_token=args.accept_any_token,
                          reply_token_ttl=args.reply_token_ttl, verbose=args.verbose)
    for token in args.channel:
        fake.add_channel(token)
    for spec in args.user:
        user_id, _, name = spec.partition(":")
        fake.add_user(user_id, name)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    fake.start()
    print(fake.base_url, flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
