"""The application: the `gatesweep` command line, the sweep's wiring of the phases, the tracker and the
report stage, and the nightly job's lock."""
