"""``POST /feedback``: ground truth for earlier predictions, by request id.

Feedback is training data, so it is guarded whenever anything is: the feedback token (else the
prediction token) and the admin token are accepted, and with any token configured an anonymous
post is a 401. The body is one ``{request_id, label}`` object, a list of them, or
``{"feedback": [...]}``; a label that is not one the task can learn from is a 422 naming the item
(:mod:`loopml.serving.labels`), and nothing of that body is stored.

Only ids the server issued are stored: ids this process answered recently (the scorer's memory),
ids already labelled, and ids in the deployment's prediction log on disk (answered by another
worker, or before a restart; a worker's log is on disk within ``serving.log_flush_interval``, so
a label posted to another worker sooner may come back unknown: post it again). Looking ids up on
disk reads the log's ``request_id`` column, so it is only done for ids not found otherwise.
Unknown ids are counted and listed in the answer, not stored. A
second label for an id is compared with the stored one: the same label again is an idempotent
duplicate; a different one is a conflict, listed, and the first label is kept. The answer is a
:class:`~loopml.serving.schemas.FeedbackResponse`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopml.modeling.metrics import label_text
from loopml.predlog import logged_ids
from loopml.serving.labels import MAX_REQUEST_ID, check_labels, parse_items, rule_for
from loopml.serving.openapi import REQUEST_BODIES, security
from loopml.serving.routes._common import Service, authorize, json_response, read_json
from loopml.serving.schemas import FeedbackResponse, responses

logger = logging.getLogger(__name__)
LISTED = 100  # unknown ids and conflicts listed in one answer at most (all are counted)
NEEDS = (
    "POST /feedback needs 'Authorization: Bearer <token>' with the feedback token "
    "(LOOPML_FEEDBACK_TOKEN; when unset, the prediction token) or the admin token: labels "
    "become training data"
)


def router(service: Service) -> APIRouter:
    routes = APIRouter(tags=["feedback"])
    store, metrics, recent = service.store, service.metrics, service.scorer.recent
    tokens, max_body = service.feedback_tokens, service.spec.serving.max_body

    @routes.post(
        "/feedback",
        openapi_extra={
            **REQUEST_BODIES["feedback"],
            **security(
                "feedbackToken" if service.feedback_token or service.prediction_token else None,
                "adminToken" if service.admin_token else None,
            ),
        },
        summary="Ground truth for earlier predictions",
        responses=responses(FeedbackResponse, 400, 401, 413, 422),
    )
    async def feedback(request: Request) -> Response:
        authorize(request, tokens, NEEDS)
        items = parse_items(await read_json(request, max_body))
        stable = service.follower.current().stable
        target = stable.package.profile.columns.get(service.spec.target)
        rule = rule_for(stable.task, stable.labels, target.dtype if target else None)
        labels = check_labels(items, rule)

        ids = list(dict.fromkeys(i.request_id for i in items))
        storable = [i for i in ids if 0 < len(i) <= MAX_REQUEST_ID]
        stored = await run_in_threadpool(store.feedback.labels, storable)
        known = {i for i in storable if i in recent or i in stored}
        rest = [i for i in storable if i not in known]
        if rest:
            known |= await run_in_threadpool(
                logged_ids, service.log_folder, service.spec.name, rest
            )

        unknown: list[str] = []
        conflicts: list[dict[str, Any]] = []
        new: dict[str, Any] = {}
        duplicates = 0
        for item, label in zip(items, labels, strict=True):
            request_id = item.request_id
            if request_id not in known:
                unknown.append(request_id)
                continue
            kept = stored[request_id] if request_id in stored else new.get(request_id)
            if request_id not in stored and request_id not in new:
                new[request_id] = label
            elif label_text(kept) == label_text(label):
                duplicates += 1
            else:
                conflicts.append({"request_id": request_id, "stored": kept, "sent": label})
        added, raced = (
            await run_in_threadpool(store.feedback.add, list(new.items())) if new else (0, 0)
        )
        duplicates += raced  # labelled by a concurrent request in between: the first one kept
        for outcome, count in (
            ("stored", added),
            ("duplicate", duplicates),
            ("unknown", len(unknown)),
            ("conflict", len(conflicts)),
        ):
            if count:
                metrics.feedback.labels(outcome).inc(count)
        if unknown or conflicts:
            logger.warning(
                "feedback: %d label(s) for ids this server did not issue, %d conflicting with "
                "a stored label: not stored",
                len(unknown),
                len(conflicts),
            )
        return json_response(
            {
                "received": len(items),
                "stored": added,
                "duplicates": duplicates,
                "unknown": len(unknown),
                "conflicting": len(conflicts),
                "unknown_ids": [i[:MAX_REQUEST_ID] for i in unknown[:LISTED]],
                "conflicts": conflicts[:LISTED],
            }
        )

    return routes
