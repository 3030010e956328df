"""Offline evaluation of streamrec on a real interaction log: prequential replay, baselines, blend fitting."""
