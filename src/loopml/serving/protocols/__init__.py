"""Protocol adapters: other servers' request bodies in, records out; predictions in, bodies out.

Pure functions, no I/O, no web framework: the routes validate and score the records; these
modules only translate. A body that cannot be read raises :class:`~loopml.errors.RequestError`
with the HTTP status to answer with and a message naming the field, what was expected and what
was got.

- :mod:`~loopml.serving.protocols.mlflow`: MLflow's scoring server (``/invocations``, JSON or CSV);
- :mod:`~loopml.serving.protocols.v2`: the Open Inference Protocol (KServe V2, REST), with
  Triton's binary tensor extension;
- :mod:`~loopml.serving.protocols._common`: what both share (JSON reading, row and scalar checks,
  how a value is described in an error message).
"""
