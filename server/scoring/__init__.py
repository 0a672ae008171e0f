"""Evaluation on the server: daily rollups of votes, scores computed from them through ``analysis/``,
and closed periods with their revisions. Services the actions (``server/manage/scores.py``,
``server/manage/periods.py``) and the jobs call; SQL lives in ``server/storage/``."""
