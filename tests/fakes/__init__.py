"""Stand-ins for hardware and for the performance, shared by the channel tests."""
