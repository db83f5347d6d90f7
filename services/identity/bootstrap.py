"""Wires the identity process: its application, relay, process manager (its replica of the
organisation, from the orders topic) and HTTP app; in development mode, the demo users."""

from __future__ import annotations

from runtime.process import Process, service_process
from runtime.settings import Settings
from services.identity.api.routes import api_keys, sessions, users
from services.identity.application import POLICIES, IdentityApplication
from services.identity.contract import to_integration_event
from services.identity.throttle import SignInThrottle

MASTER_DATA_GATHER_S = 0.5


def build(
    settings: Settings, *, with_relay: bool = True, with_process_manager: bool = True
) -> Process:
    process = service_process(
        settings,
        application_class=IdentityApplication,
        translate=to_integration_event,
        routers=[users, api_keys, sessions],
        description="Users with a role and scope, their API keys, and sign-in. Passwords and "
        "keys are kept only as argon2id hashes.",
        policies=POLICIES,
        listens_to=("orders",),
        # Only master data is wanted from the orders topic (a few registrations among every
        # order's events): read it in batches at most twice a second. A dealer, branch or
        # region registered may then be refused as a user's scope half a second longer.
        saga_gather_s=MASTER_DATA_GATHER_S,
        with_relay=with_relay,
        with_process_manager=with_process_manager,
    )
    application: IdentityApplication = process.api.state.application
    process.api.state.sign_in_throttle = SignInThrottle(
        max_failures=settings.sign_in_max_failures, window_s=settings.sign_in_window_s
    )
    application.create_demo_users()
    return process
