"""The destinations this server can deliver to: each is one folder (its definition, settings, client and browser
plugin) and one line in `REGISTRY`."""

from ..actions import Registry
from .oneflow.definition import ONEFLOW
from .segment.definition import SEGMENT
from .webhook.definition import WEBHOOK

REGISTRY = Registry([ONEFLOW, WEBHOOK, SEGMENT])
