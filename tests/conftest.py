"""Suite-wide fixtures, and what makes ``./scripts/test --fast`` fast.

``--fast`` leaves out the tests marked ``e2e``, ``interop`` or ``browser`` (marked here by
directory and by name, or by their modules), and runs the property tests under the Hypothesis
profile ``fast``: at most :data:`FAST_MAX_EXAMPLES` examples each, whatever the test asks for
(the full run keeps every test's own count).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests import database_reset

TESTS = Path(__file__).resolve().parent

database_reset.install()

#: Every test in these directories carries the marker (``--fast`` deselects both).
DIRECTORY_MARKERS: dict[str, str] = {
    "interop": "interop",  # the official npm clients under node
}

#: Tests that start real processes of their own (servers, workers, ``manage.py``, the CLI)
#: without saying so in their module: they are ``e2e`` like the modules that mark themselves.
#: A path names a whole module, ``path::name`` one test (all its parameters).
PROCESS_TESTS: frozenset[str] = frozenset(
    {
        "api/test_key_proofs.py::test_the_python_cli_approves_a_key_proof",  # python -m pubky
        "api/test_limits_on_servers.py",  # daphne and uvicorn processes
        "domains/test_relays.py::test_the_check_relays_worker_process_stops_cleanly_on_sigint",
        "domains/test_republish_loop.py",  # the republish worker as a process
        # manage.py check in a process of its own, with exactly the environment under test
        "foundation/test_configuration.py::test_a_malformed_database_url_stops_with_one_line",
        "foundation/test_configuration.py::test_a_malformed_redis_url_stops_with_one_line",
        "foundation/test_configuration.py::test_a_wrong_length_encryption_key_stops_with_one_line",
        "foundation/test_configuration.py::test_production_refuses_to_start_without_its_secrets",
        "foundation/test_configuration.py::test_production_refuses_a_short_secret_key",
        "foundation/test_configuration.py::test_production_starts_with_every_secret",
        "foundation/test_configuration.py::test_secrets_can_come_from_files",
        "foundation/test_configuration.py::test_an_unknown_settings_module_stops_with_one_line",
        "foundation/test_configuration.py::"
        "test_an_application_name_the_triggers_would_not_skip_is_refused",
        "infra/test_devstack_servers.py",  # PostgreSQL and Valkey started and stopped
        "infra/test_operations.py::"
        "test_metrics_add_up_the_processes_that_share_a_multiprocess_directory",
        "infra/test_redis_settings.py::test_a_malformed_sentinel_setting_stops_with_one_line",
        "infra/test_redis_settings.py::test_sentinels_without_the_master_name_stop_with_one_line",
        "infra/test_redis_settings.py::test_production_accepts_sentinels_instead_of_a_redis_url",
        "infra/test_scripts.py",  # ./scripts/run and ./scripts/test themselves
        "pubky/test_cli.py",  # python -m pubky against the testnet
        "pubky/test_pubkyauth.py::test_cli_approve_hands_a_signed_token_to_the_waiting_app",
        "pubky/test_pubkyauth.py::test_cli_approve_explains_a_bad_link_and_a_missing_secret",
        "pubky/test_testnet.py::test_manage_py_pubky_testnet",
        "pubky/test_testnet.py::test_manage_py_rejects_non_loopback",
    }
)


def markers_for(relative_path: str, test_name: str) -> set[str]:
    """The markers this file adds to the test ``test_name`` of ``tests/<relative_path>``."""
    markers = set()
    directory = relative_path.split("/", 1)[0]
    if directory in DIRECTORY_MARKERS:
        markers.add(DIRECTORY_MARKERS[directory])
    base_name = test_name.split("[", 1)[0]
    if relative_path in PROCESS_TESTS or f"{relative_path}::{base_name}" in PROCESS_TESTS:
        markers.add("e2e")
    return markers


#: The most examples a property test runs under the ``fast`` profile (``--fast``).
FAST_MAX_EXAMPLES = 2
hypothesis_settings.register_profile("fast", max_examples=FAST_MAX_EXAMPLES)


def cap_examples(test: Any, most: int) -> bool:
    """Lower the examples of the Hypothesis test ``test`` to ``most``; False if it is none.

    A test's own ``@settings(max_examples=…)`` wins over any profile, so the profile alone
    cannot shorten it: the settings Hypothesis reads when the test runs are replaced instead.
    """
    if not getattr(test, "is_hypothesis_test", False):
        return False
    current = getattr(test, "_hypothesis_internal_use_settings", None)
    if current is None:  # a Hypothesis that keeps its settings elsewhere: fail loudly
        raise RuntimeError("cannot find the settings of Hypothesis test " + repr(test))
    if current.max_examples > most:
        test._hypothesis_internal_use_settings = hypothesis_settings(current, max_examples=most)
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    fast = hypothesis_settings.get_current_profile_name() == "fast"
    for item in items:
        if fast:
            cap_examples(getattr(item, "obj", None), FAST_MAX_EXAMPLES)
        try:
            relative = item.path.resolve().relative_to(TESTS).as_posix()
        except ValueError:
            continue
        for name in sorted(markers_for(relative, item.name)):
            item.add_marker(getattr(pytest.mark, name))


@pytest.fixture
def encryption_key(settings) -> bytes:
    """The key the test settings seal private keys under."""
    return bytes(settings.PUBKY_KEY_ENCRYPTION_KEY)
