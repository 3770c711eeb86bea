"""The load test's users: members reading the portal's data, and a treasurer at work.

Run by ``bench/load/run.py`` (``make load``), which loads a demo association, starts the
servers and writes the fixture this file reads (``LOAD_FIXTURE``: a JSON file with member ids
and their API tokens, a Treasurer's token and customer ids). Pick the mix by class name:

    locust -f bench/load/locustfile.py --headless -u 8 -r 8 -t 30s --host URL PortalMember
    locust -f bench/load/locustfile.py --headless -u 8 -r 8 -t 30s --host URL Treasurer

Every request goes through the JSON API with a bearer token, as a portal or another program
would; ``FastHttpUser`` keeps the client's own cost low (locust shares the machine).
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, task

FIXTURE: dict[str, Any] = json.loads(Path(os.environ["LOAD_FIXTURE"]).read_text())
_members = itertools.cycle(FIXTURE["members"])


class PortalMember(FastHttpUser):
    """A member in the portal: its payment history most, then invoices, summary, notifications."""

    wait_time = between(0, 0)  # back to back: the figure is what the servers can answer

    def on_start(self) -> None:
        member = next(_members)
        self.member_id = member["member_id"]
        self.headers = {"Authorization": f"Bearer {member['token']}"}

    @task(4)
    def payment_history(self) -> None:
        self.client.get(
            f"/api/v1/members/{self.member_id}/payment-history",
            headers=self.headers,
            name="/members/{id}/payment-history",
        )

    @task(2)
    def invoices(self) -> None:
        self.client.get("/api/v1/invoices", headers=self.headers, name="/invoices")

    @task(1)
    def financial_summary(self) -> None:
        self.client.get(
            f"/api/v1/members/{self.member_id}/financial-summary",
            headers=self.headers,
            name="/members/{id}/financial-summary",
        )

    @task(1)
    def notifications(self) -> None:
        self.client.get("/api/v1/notifications", headers=self.headers, name="/notifications")


class Treasurer(FastHttpUser):
    """A treasurer: the lists, a member's history, and now and then a payment recorded."""

    wait_time = between(0, 0)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {FIXTURE['treasurer']}"}

    @task(2)
    def members(self) -> None:
        self.client.get("/api/v1/members", headers=self.headers, name="/members")

    @task(2)
    def invoices(self) -> None:
        self.client.get("/api/v1/invoices", headers=self.headers, name="/invoices")

    @task(2)
    def payments(self) -> None:
        self.client.get("/api/v1/payments", headers=self.headers, name="/payments")

    @task(2)
    def payment_history(self) -> None:
        member_id = random.choice(FIXTURE["members"])["member_id"]
        self.client.get(
            f"/api/v1/members/{member_id}/payment-history",
            headers=self.headers,
            name="/members/{id}/payment-history",
        )

    @task(1)
    def record_payment(self) -> None:
        """A small payment, submitted at once: it settles the customer's oldest open invoice
        (or stays unallocated), and leaves follow-up jobs for the workers."""
        customer_id = random.choice(FIXTURE["customers"])
        self.client.post(
            "/api/v1/payments",
            json={"customer_id": customer_id, "paid_amount": "1.00", "submit": True},
            headers=self.headers,
            name="POST /payments",
        )
