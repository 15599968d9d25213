"""Settings are checked when they are read, not when a stage first needs them."""

from datetime import datetime

import pytest

from entrypoints.bootstrap import open_jejak
from workflow.application import Jejak
from workflow.errors import InvalidField
from workflow.settings import Settings


@pytest.mark.parametrize("environ, message", [
    ({"JEJAK_DEADLINE_PPK_FOLOW_UP": "10"}, "unknown deadline 'ppk_folow_up'"),
    ({"JEJAK_DEADLINE_PPK_FOLLOW_UP": "ten"}, "cannot read 'ten'"),
    ({"JEJAK_DEADLINE_KSAN_2024__PPK_FOLLOW_UP": "3"}, "unknown era 'ksan-2024'"),
])
def test_bad_deadline_overrides_are_refused_at_start(environ, message):
    with pytest.raises(InvalidField, match=message):
        Settings.from_env(environ)


def test_tick_needs_an_aware_time(tmp_path):
    with open_jejak(f"sqlite:///{tmp_path / 'x.db'}") as app:
        with pytest.raises(InvalidField, match="timezone-aware"):
            app.tick(now=datetime(2024, 11, 1))
