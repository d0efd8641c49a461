"""``./scripts/test --fast``: which tests, how many examples, how many workers, kept apart."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pubkyproject.settings.test import _private_channel_prefix, _worker_redis_url
from scripts.stack import fast
from scripts.stack.errors import ConfigError
from tests.conftest import FAST_MAX_EXAMPLES, cap_examples

MARKS = ["-m", fast.FAST_TESTS]
PROFILE = "--hypothesis-profile=fast"


@pytest.mark.parametrize(
    ("given_args", "workers", "expected"),
    [
        ([], 2, ["-n", "2", PROFILE, *MARKS]),
        ([], 1, [PROFILE, *MARKS]),
        (["tests/pubky", "-x"], 3, ["-n", "3", PROFILE, *MARKS, "tests/pubky", "-x"]),
        # The caller's own choices win: a worker count, no xdist, a profile, a debugger.
        (["-n", "1"], 2, [PROFILE, *MARKS, "-n", "1"]),
        (["-n4"], 2, [PROFILE, *MARKS, "-n4"]),
        (["-p", "no:xdist"], 2, [PROFILE, *MARKS, "-p", "no:xdist"]),
        (["--hypothesis-profile=ci"], 2, ["-n", "2", *MARKS, "--hypothesis-profile=ci"]),
        (["--pdb"], 2, [PROFILE, *MARKS, "--pdb"]),
        (["-s", "tests/pubky"], 2, [PROFILE, *MARKS, "-s", "tests/pubky"]),
        # After `--` nothing is an option of pytest's any more.
        (["--", "-n"], 2, ["-n", "2", PROFILE, *MARKS, "--", "-n"]),
    ],
)
def test_fast_runs_the_fast_tests_with_fewer_examples_on_every_cpu(
    given_args: list[str], workers: int, expected: list[str]
) -> None:
    assert fast.fast_pytest_args(given_args, workers=workers) == expected


def test_the_worker_count_is_one_per_cpu_unless_set() -> None:
    assert 1 <= fast.worker_count({}) <= fast.MAX_DEFAULT_WORKERS
    assert fast.worker_count({"DEVSTACK_TEST_WORKERS": " 3 "}) == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "16"])
def test_a_bad_worker_count_is_a_config_error(value: str) -> None:
    with pytest.raises(ConfigError, match="DEVSTACK_TEST_WORKERS must be a number from 1 to 15"):
        fast.worker_count({"DEVSTACK_TEST_WORKERS": value})


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "gw0", "redis://127.0.0.1:6379/1"),
        ("redis://:pw@127.0.0.1:6379", "gw14", "redis://:pw@127.0.0.1:6379/15"),
        ("rediss://cache.internal:6380/0", "gw1", "rediss://cache.internal:6380/2"),
        ("redis://127.0.0.1:6379/0", "master", "redis://127.0.0.1:6379/0"),
        ("unix:///run/valkey.sock?db=0", "gw0", "unix:///run/valkey.sock?db=0"),
    ],
)
def test_each_parallel_worker_gets_its_own_valkey_database(
    url: str, worker: str, expected: str
) -> None:
    assert _worker_redis_url(url, worker) == expected


def test_the_fast_profile_caps_a_tests_own_example_count() -> None:
    runs: list[int] = []

    @settings(max_examples=300, database=None)
    @given(st.integers())
    def prop(number: int) -> None:
        runs.append(number)

    assert cap_examples(prop, FAST_MAX_EXAMPLES)
    prop()

    assert 0 < len(runs) <= FAST_MAX_EXAMPLES


def test_the_fast_profile_leaves_tests_without_hypothesis_alone() -> None:
    def plain() -> None:
        pass

    assert not cap_examples(plain, FAST_MAX_EXAMPLES)
    assert not cap_examples(None, FAST_MAX_EXAMPLES)


def test_each_run_and_each_worker_has_a_channel_prefix_of_its_own() -> None:
    run: dict[str, str] = {}
    prefix = _private_channel_prefix(run)
    assert prefix.startswith("pubkytest") and run["CHANNEL_LAYER_PREFIX"] == prefix
    assert _private_channel_prefix({}) != prefix  # another run
    # Workers inherit the run's prefix and add their names, once (their servers inherit it).
    gw0 = _private_channel_prefix({**run, "PYTEST_XDIST_WORKER": "gw0"})
    gw1 = _private_channel_prefix({**run, "PYTEST_XDIST_WORKER": "gw1"})
    assert (gw0, gw1) == (prefix + "gw0", prefix + "gw1")
    server = {"CHANNEL_LAYER_PREFIX": gw0, "PYTEST_XDIST_WORKER": "gw0"}
    assert _private_channel_prefix(server) == gw0
    # A prefix the caller chose is kept.
    assert _private_channel_prefix({"CHANNEL_LAYER_PREFIX": "mine"}) == "mine"


def test_the_layer_and_the_sync_publisher_use_this_runs_prefix(settings) -> None:
    """The layer is made after the prefix is set, so both sides name the same Redis channel."""
    from channels.layers import get_channel_layer

    from realtime import transport

    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    assert prefix == os.environ["CHANNEL_LAYER_PREFIX"]
    assert get_channel_layer()._kwargs["prefix"] == prefix  # what its loop layers are made with
    assert transport.group_channel_name("t") == f"{prefix}__group__t"
