"""The local Pubky testnet (``manage.py pubky_testnet``) that ``./scripts/run`` starts."""

from __future__ import annotations

from .children import Child
from .console import log_tail, rel, say, warn
from .environment import Setup
from .errors import StackError
from .manage_py import manage, management_command_path
from .ports import LOOPBACK, wait_for_port

# The testnet homeserver's well-known key (pubky-testnet: the key of the all-zero seed).
TESTNET_HOMESERVER_KEY = "8pinxxgqs41n4aididenw5apqp1urfmzdztr8jt4abrkdn435ewo"


def start_testnet(setup: Setup) -> Child | None:
    command = management_command_path("pubky_testnet")
    if command is None:
        warn("manage.py pubky_testnet does not exist yet; running without a Pubky testnet")
        return None
    source = command.read_text(errors="replace")
    relay, homeserver, http_relay, *_ = ports = [setup.ports[s.env] for s in setup.profile.testnet]
    say(f"starting the Pubky testnet (ports {', '.join(map(str, ports))})")
    argv = manage("pubky_testnet", "--data-dir", str(setup.data_dir / "testnet"))
    for spec, port in zip(setup.profile.testnet, ports, strict=True):
        if spec.option in source:  # an option the command gains later is passed once it lands
            argv += [spec.option, str(port)]
    log = setup.stack.logs / "testnet.log"
    child = setup.stack.spawn("testnet", argv, env=setup.env, tier=1, log=log)
    for port in (relay, homeserver, http_relay):
        if not wait_for_port(port, timeout=60, alive=child):
            raise StackError(f"the Pubky testnet did not come up, see {rel(log)}:\n{log_tail(log)}")
    setup.env.update(
        PUBKY_TESTNET="1",
        PUBKY_RELAYS=f"http://{LOOPBACK}:{relay}",
        PUBKY_HOMESERVER_URL=f"http://{LOOPBACK}:{homeserver}",
        PUBKY_HTTP_RELAY_URL=f"http://{LOOPBACK}:{http_relay}/link",
    )
    setup.env.setdefault("PUBKY_HOMESERVER", TESTNET_HOMESERVER_KEY)
    return child
