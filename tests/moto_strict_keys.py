"""A moto server that refuses requests signed with an inactive IAM access key, as AWS does.

AWS answers a request signed with a deactivated key `InvalidClientTokenId` ("The security token included in the
request is invalid", docs/migrate.md); moto's server accepts any key, active or not, unless its whole IAM
authorisation is switched on (then every test request would need real keys and policies). This adds that one
behaviour and nothing else: a key moto does not know (the tests' dummy `testing` key) passes as before.

Run as a script: `python tests/moto_strict_keys.py -H 127.0.0.1 -p PORT` (`tests.servers.run_moto(strict_keys=True)`).
"""

from __future__ import annotations

import re
import sys

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import InvalidClientTokenIdError
from moto.iam.models import iam_backends
from moto.server import main

_CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/")
_original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action


def _inactive(key_id: str) -> bool:
    for account in list(iam_backends.values()):
        for backend in list(account.values()):
            key = backend.access_keys.get(key_id)
            if key is not None:
                return key.status != "Active"
    return False


def _strict(self: ActionAuthenticatorMixin, resource: str = "*") -> None:
    match = _CREDENTIAL.search(self.headers.get("Authorization", ""))  # type: ignore[attr-defined]
    if match and _inactive(match.group(1)):
        raise InvalidClientTokenIdError()
    _original(self, resource)


ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _strict  # type: ignore[method-assign]

if __name__ == "__main__":
    main(sys.argv[1:])
