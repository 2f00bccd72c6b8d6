"""SQS into MozDef: the library's SQS transport, read by MozDef's own esworker_sqs.

MozDef's SQS worker json-parses each body and appends the queue name to its
``tags``, then treats it as its RabbitMQ worker does: ``keyMapping`` and the
plugins, or, for a document carrying loginput's custom marks (as the library
marks vulnerability documents), the plugins alone. moto's SQS server stands in
for AWS.
"""

from __future__ import annotations

import copy
import uuid

import boto3
import pytest
from mozdef_kit import MozDef, mozdef_fixture  # noqa: F401 - the fixture
from test_mozdef_intake import (
    FIELDS,
    KINDS,
    check_compliance_not_indexable,
    check_vulnerability_indexed,
    core_event,
)

from mozdef_client import Client

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("aws_env")
def test_every_kind_over_sqs_is_indexed_where_mozdef_keeps_it(mozdef: MozDef, moto_sqs) -> None:
    queue = f"mdk-{uuid.uuid4().hex[:8]}"
    boto3.client("sqs", endpoint_url=moto_sqs.url).create_queue(QueueName=queue)
    sent = {}
    with Client(f"sqs://{queue}?endpoint_url={moto_sqs.url}&region=us-east-1") as client:
        for n, kind in enumerate(KINDS):
            marker = f"mdk:sqs:{kind}:{n}"
            event, fields = core_event(marker, kind)
            client.send(event)
            sent[marker] = (kind, fields)

    workers = mozdef.index_sqs(queue, moto_sqs.url, len(sent))

    assert len(workers) == len(sent)  # each message once, nothing else
    for worker in workers:
        marker = next(m for m in sent if m in str(worker.body))
        kind, fields = sent.pop(marker)
        if kind.startswith("vulnerability"):
            assert worker.doc is not None
            doc_tags = worker.doc.pop("tags")
            assert doc_tags == [queue]  # what esworker_sqs adds to every message
            check_vulnerability_indexed(fields, worker)
        elif kind == "compliance":
            check_compliance_not_indexable(worker)
        else:
            assert (worker.outcome, worker.index, worker.errors) == ("saved", "events", [])
            expected = copy.deepcopy(fields)
            expected["tags"] = [*fields["tags"], queue]
            expected["processid"] = str(fields["processid"])
            doc = worker.doc or {}
            assert {name: doc.get(name) for name in FIELDS} == {n: expected[n] for n in FIELDS}
    assert sent == {}
