"""Errors raised by the guest layers."""
from __future__ import annotations


class GuestFault(Exception):
    """A guest memory access (including an instruction fetch) that the guest address space
    refuses: the page is not mapped, or not mapped with the needed permission. `addr` is the
    first guest address that cannot be accessed."""

    def __init__(self, addr: int, message: str = ""):
        super().__init__(message or f"guest fault at {addr:#x}")
        self.addr = addr
