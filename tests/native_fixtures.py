"""The `space` and `backend` fixtures of the tests that run generated code directly: a guest
address space with some regions mapped, and an x86 backend on it. Each test module maps its own
regions, so it builds its pair here instead of sharing one conftest fixture."""
from __future__ import annotations

import pytest

from host_x86.guest_access import GUEST_GUARD_SIZE
from host_x86.backend import X86Backend
from host_x86.testing import GuestSpace


def space_and_backend(regions: list[tuple], guard_variants: bool = False):
    """Module-scoped (space, backend) fixtures with `regions` mapped: (address, size) or
    (address, size, PROT_* bits), read-write by default.
    With guard_variants, every test runs twice: without guard areas around the guest space
    (every access checked) and with them (a base checked once)."""
    guards = [0, GUEST_GUARD_SIZE] if guard_variants else [0]
    ids = ["unguarded", "guarded"] if guard_variants else None

    @pytest.fixture(scope="module", params=guards, ids=ids)
    def space(request):
        guest = GuestSpace(guard=request.param)
        for region in regions:
            guest.map(*region)
        yield guest
        guest.close()

    @pytest.fixture(scope="module")
    def backend(space):
        return X86Backend(space.base, guest_guarded=space.guard >= GUEST_GUARD_SIZE)

    return space, backend
