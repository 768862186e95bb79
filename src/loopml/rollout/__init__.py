"""Rollout: moving a canary from a few percent of traffic to all of it, or back.

``decide`` is the pure decision over two arms' evidence; ``controller`` reads the evidence from the
prediction log and the feedback, applies decisions to the deployment's state in the store
(compare-and-set, so several server replicas follow one rollout) and records each one.
"""
