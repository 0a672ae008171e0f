"""Pure functions from vote counts to scores, grades, flags and trends.

No I/O and no Flask (an import-linter contract in pyproject.toml): the
server feeds these functions counts and times and stores what they return.

- ``levels``: tallies, each scale version read by its own definition;
- ``scores``: raw rate, Wilson interval, index, empirical-Bayes score, rollups;
- ``grades``: grades from the posterior probability of clearing a threshold;
- ``anomalies``: the tests of the nightly scan, with Benjamini–Hochberg;
- ``trends``: Mann–Kendall, Theil–Sen, p-charts, funnel limits.

docs/scoring.md explains every formula in words, with a worked example.
"""
