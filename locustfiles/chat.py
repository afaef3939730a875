"""chatload's main locustfile: event owners and requesters on the chat.

    locust -f locustfiles/chat.py                          # web UI, embedded server
    locust -f locustfiles/chat.py --headless -u 20 -r 20 -t 20s
    locust -f locustfiles/chat.py --host wss://chat.example/ws --users-file users.csv
    locust -f locustfiles/chat.py --config scenarios/smoke.conf   # a ready scenario

See the README for every option (locust -f locustfiles/chat.py --help lists them).
"""

# Locust first: it patches the standard library with gevent when imported.
from locust import events, run_single_user

from chatload.loadgen import OwnerUser, ProbeUser, RequesterUser, install
from chatload.loadgen.wiring.shapes import StagesShape, StepShape

install(events)

__all__ = ["OwnerUser", "ProbeUser", "RequesterUser", "StagesShape", "StepShape"]

if __name__ == "__main__":
    # Debug one user in an IDE: python locustfiles/chat.py (needs --host in LOCUST_HOST).
    run_single_user(RequesterUser)
