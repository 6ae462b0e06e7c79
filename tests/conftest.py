"""Shared pytest configuration for the UniHM test suite.

Markers:
    slow: a test that takes more than a few seconds. Slow tests still run in `make test`
        (nothing is deselected by default); `pytest -m "not slow"` skips them locally.

Helpers:
    in_ci(): True when the environment variable ``CI`` says we run under CI. Under CI, a
        missing optional backend (e.g. no Vulkan device for SAPIEN) must fail the test
        instead of skipping it; :func:`skip_or_fail` does that choice in one call.
"""

from __future__ import annotations

import os

import pytest

_TRUE = {"1", "true", "yes", "on"}


def in_ci() -> bool:
    """True when ``CI`` is set to a true value (``true``, ``1``, ``yes``, ``on``)."""
    return os.environ.get("CI", "").strip().lower() in _TRUE


def skip_or_fail(reason: str) -> None:
    """Skip the current test with ``reason``, or fail it when running under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing requirement is a failure, not a skip)")
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (still runs in make test)")


@pytest.fixture
def ci() -> bool:
    """Whether the test runs under CI (see :func:`in_ci`)."""
    return in_ci()


@pytest.fixture(scope="session")
def encoder():
    """The sentence encoder (all-MiniLM-L6-v2), loaded once for the whole run."""
    from unihm_core.perception import get_text_encoder

    return get_text_encoder()
