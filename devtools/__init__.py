"""Tools for running the system for real on one machine: the demo and the
fault-injecting TCP proxy that the demo, the fault tests and the chaos runs use."""
