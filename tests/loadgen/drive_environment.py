"""Run chatload's personas in a real Locust Environment; print what happened as JSON.

    python tests/loadgen/drive_environment.py SECONDS USERS [locust options...]

Run as its own process: Locust patches the standard library with gevent, which
the test process must not get.
"""

import json
import sys

import gevent
from locust import events  # before chatload.loadgen: Locust patches the standard library
from locust.argument_parser import get_empty_argument_parser, setup_parser_arguments
from locust.env import Environment

from chatload.loadgen import OwnerUser, RequesterUser, install


def main(argv: list[str]) -> int:
    seconds, users, extra = float(argv[0]), int(argv[1]), argv[2:]
    install(events)
    parser = get_empty_argument_parser(add_help=False, default_config_files=[])
    setup_parser_arguments(parser)
    events.init_command_line_parser.fire(parser=parser)
    options = parser.parse_args(["--headless", "-u", str(users), *extra])
    environment = Environment(
        user_classes=[OwnerUser, RequesterUser],
        events=events,
        parsed_options=options,
        host=options.host,
    )
    runner = environment.create_local_runner()
    events.init.fire(environment=environment, runner=runner, web_ui=None)
    runner.start(users, spawn_rate=max(users, 1))
    gevent.sleep(seconds)
    people = []
    for greenlet in list(runner.user_greenlets):
        user = greenlet.args[0]
        people.append(
            {
                "class": type(user).__name__,
                "user_id": user.identity.user_id if user.identity else None,
                "chats": len(user.chats),
                "events": len(user.events()) if isinstance(user, OwnerUser) else None,
                "connected": bool(user.client and user.client.connected),
            }
        )
    runner.quit()
    events.quitting.fire(environment=environment, reverse=True)
    stats = {
        name: {
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "median_ms": entry.median_response_time,
            "max_ms": entry.max_response_time,
        }
        for (name, _), entry in runner.stats.entries.items()
    }
    failures = [
        {"name": error.name, "error": str(error.error), "occurrences": error.occurrences}
        for error in runner.stats.errors.values()
    ]
    print(json.dumps({"stats": stats, "failures": failures, "users": people}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
