"""The server's routes, one :class:`fastapi.APIRouter` per family, each built over the app's
:class:`~loopml.serving.routes._common.Service` (no globals):

- :mod:`.predict`: loopml's own JSON (``/predict``);
- :mod:`.mlflow`: MLflow's scoring server (``/invocations``, ``/ping``);
- :mod:`.v2`: the Open Inference Protocol (``/v2/...``);
- :mod:`.feedback`: ground truth by request id (``/feedback``);
- :mod:`.admin`: reload and rollouts (``/admin/...``, bearer token);
- :mod:`.health`: probes and versions (``/healthz``, ``/readyz``, ``/version``);
- :mod:`.metrics`: Prometheus (``/metrics``).

Every error is raised as a :class:`~loopml.errors.LoopmlError` and answered by the app's one
handler (:func:`~loopml.serving.routes._common.error_response`).
"""
