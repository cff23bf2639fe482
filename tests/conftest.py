"""Fixtures shared by several test modules."""
from __future__ import annotations

import os

import pytest


@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass
