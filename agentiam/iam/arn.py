"""ARNs: their fields, and how much a resource pattern reaches (one named resource ... every resource of a type).

IAM matches resource patterns with `*` and `?` anywhere, across `/` and `:`. What a reviewer must know is not whether a
pattern has a wildcard but what it covers: `arn:aws:s3:::billing-dev-invoices/*` (the objects of one named bucket) is
an ordinary grant, `arn:aws:s3:::*/*` and `arn:aws:ec2:eu-west-1:111111111111:instance/*` are Resource `"*"` in all but
spelling. `breadth` answers that from the ARN formats of the IAM catalogue (`agentiam.iam.catalogue`): a pattern that
matches a resource of some type whatever that resource is named covers the whole collection.
"""

from __future__ import annotations

import fnmatch
import re
from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple

from agentiam.iam import catalogue

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
# A name no real resource carries: a pattern matching it matches any name (a collection).
PROBE = "agentiam-probe-7f3a9c"


class Arn(NamedTuple):
    """The six colon-separated fields of an ARN (the resource keeps its own colons)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn | None:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        return cls(parts[1], parts[2], parts[3], parts[4], parts[5])


class Breadth(IntEnum):
    """How much of an account one resource pattern reaches, narrowest first."""

    EXACT = 0  # one named resource, no wildcard
    SUBTREE = 1  # below one named resource: `bucket-name/*`, `parameter/billing/*`
    PATTERN = 2  # resources whose names match a pattern: `billing-*`, `instance/i-0ab*`, any region
    COLLECTION = 3  # every resource of a type: `arn:aws:s3:::*`, `*/*`, `instance/*`, `table/*`, `key/*`
    ANY = 4  # Resource "*"

    @property
    def label(self) -> str:
        return {Breadth.EXACT: "one named resource", Breadth.SUBTREE: "everything below one named resource",
                Breadth.PATTERN: "every resource matching a name pattern",
                Breadth.COLLECTION: "every resource of its type in the account", Breadth.ANY: "every resource"}[self]


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@lru_cache(maxsize=16384)
def breadth(resource: str) -> Breadth:
    """How much `resource` (a filled ARN, or `*`) reaches; see the module docstring."""
    if resource == "*":
        return Breadth.ANY
    if not has_wildcard(resource):
        return Breadth.EXACT
    arn = Arn.parse(resource)
    if arn is None or has_wildcard(arn.service) or has_wildcard(arn.partition):
        return Breadth.ANY
    if _covers_any_name(arn, resource):
        return Breadth.COLLECTION
    head = resource[:min(i for i in (resource.find("*"), resource.find("?")) if i >= 0)]
    if head.endswith(("/", ":")) and _names_a_resource(head[:-1]):
        return Breadth.SUBTREE  # the wildcard starts at a path separator right after one named resource
    return Breadth.PATTERN


def _names_a_resource(text: str) -> bool:
    """Whether `text` (no wildcard) is the complete ARN of one resource of a type the catalogue knows."""
    arn = Arn.parse(text)
    if arn is None:
        return False
    return any(_format_regex(template).match(text) for template in catalogue.resource_formats(arn.service.lower())
               .values())


@lru_cache(maxsize=4096)
def _format_regex(template: str) -> re.Pattern[str]:
    """An ARN format as a regex: every `${Name}` one or more characters (partition, region, account included)."""
    parts = _VARIABLE.split(template)  # literal, name, literal, name, ..., literal
    return re.compile("".join(re.escape(part) if i % 2 == 0 else ".+" for i, part in enumerate(parts)) + r"\Z")


def _covers_any_name(arn: Arn, pattern: str) -> bool:
    """Whether the pattern matches some resource type's ARN whatever the resource's name parts are."""
    formats = catalogue.resource_formats(arn.service.lower())
    if not formats:  # a service the catalogue does not know: judge by the text alone
        return arn.resource.strip("*?/:") == ""
    region = arn.region if not has_wildcard(arn.region) else "us-east-1"
    account = arn.account if not has_wildcard(arn.account) else "123456789012"
    # The text before the first wildcard must start the probe: most patterns name something (`bucket-x/*`) and are
    # ruled out without compiling a regex.
    literal = pattern[:min(i for i in (pattern.find("*"), pattern.find("?")) if i >= 0)]
    for template in formats.values():
        probe = _probe(template, arn.partition, region, account)
        if probe.startswith(literal) and fnmatch.fnmatchcase(probe, pattern):
            return True
    return False


@lru_cache(maxsize=4096)
def _probe(template: str, partition: str, region: str, account: str) -> str:
    """The ARN format with its partition, region and account filled and every name part set to PROBE."""
    fixed = {"Partition": partition, "Region": region, "Account": account}
    return _VARIABLE.sub(lambda m: fixed.get(m.group(1), PROBE), template)


_CANONICAL = {"{env}": "env", "{region}": "us-east-1", "{account}": "123456789012", "{agent}": "agent"}


@lru_cache(maxsize=16384)
def template_breadth(template: str) -> Breadth:
    """The breadth of a spec's resource template: the same in every environment (placeholders never hold a
    wildcard), so it is judged once with neutral values instead of once per environment and spec."""
    for placeholder, value in _CANONICAL.items():
        template = template.replace(placeholder, value)
    return breadth(template)


def account_free(resource: str) -> bool:
    """Whether an ARN names no account (S3 buckets and objects, a few global services): IAM cannot tell from the ARN
    whose resource it is, so only a condition on the resource's account keeps the grant in the environment."""
    arn = Arn.parse(resource)
    return arn is not None and arn.account == ""
