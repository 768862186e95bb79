"""Serving: the model server of one deployment.

- :mod:`.app`: the app factory :func:`~loopml.serving.app.create_app`;
- :mod:`.scoring`: the :class:`~loopml.serving.scoring.Scorer` (validate → route → canary
  fallback → shadow copy → log), usable without HTTP;
- :mod:`.follower`: following the deployment in the store (the routing snapshot, swapped whole);
- :mod:`.routing`: the snapshot itself and which model answers a request;
- :mod:`.inputs`: the input contract (records checked against the model's schema);
- :mod:`.labels`: feedback labels checked against the task before they become training data;
- :mod:`.routes`: one router per family of endpoints; :mod:`.protocols`: MLflow's and the Open
  Inference Protocol's bodies; :mod:`.schemas`: the documented request and response models;
- :mod:`.metrics`: Prometheus metrics; :mod:`.server`: ``loopml serve``'s processes.
"""
