"""Maintenance: close the loop from monitoring back to training and rollout.

- :mod:`~loopml.loop.production` turns the prediction log and the labels fed back into rows
  shaped like the training data;
- :mod:`~loopml.loop.policy` decides when to retrain (triggers, cooldown, weekly budget);
- :mod:`~loopml.loop.fresh` splits the fresh rows into training rows and the comparison window,
  and applies the data policy;
- :mod:`~loopml.loop.retrain` builds the data, trains, gates on the most recent labelled window
  and starts the canary (or proposes it);
- :mod:`~loopml.loop.daemon` runs it all as ``loopml loop``;
- :mod:`~loopml.loop.simulate` replays later data through the loop in-process to show what it
  pays (``loopml simulate``).
"""
