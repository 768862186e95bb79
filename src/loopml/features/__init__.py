"""Features: the pipeline fitted at training, shipped inside the model, reused at serving.

See :mod:`loopml.features.pipeline` for the contract and one module per feature kind for its
encoding rules.
"""

from loopml.features.pipeline import FeaturePipeline

__all__ = ["FeaturePipeline"]
