"""Pure functions from vote counts to scores, grades, flags and trends.

No I/O and no Flask: the server feeds these functions rows and stores what
they return. Empty until the scoring issue; the package exists so the shape
of the project is visible from the start.
"""
