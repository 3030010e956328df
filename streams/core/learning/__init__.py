"""The model learns from the shop: a behaviour-tuned adapter on the frozen text vectors, and a learned ranker.

- ``adapter``: the published adapter (numpy; what every worker applies) and its model_version;
- ``training``: the incremental contrastive trainer (torch; CPU by default, the GPU where there is one);
- ``pairs``: co-interaction pairs from the signal deltas (the trainer's data);
- ``space``: an index that searches and scores in the tuned space while profiles stay in the encoder's;
- ``features``/``model``/``reasons``/``scorer``: the learned ranker (LightGBM LambdaRank) behind the
  Ranker's scorer extension point, its reasons the exact per-feature contributions of its score.
"""
