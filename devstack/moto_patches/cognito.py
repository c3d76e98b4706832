"""Cognito's rules for a user changing their own attributes (`UpdateUserAttributes`), which moto
skips: without them the local pool let anyone claim any e-mail address, still marked verified.

- The app client's `WriteAttributes`, when set, bound what its access tokens may write
  (`NotAuthorizedException` otherwise, as Cognito answers).
- A changed `email` is unverified (`email_verified` becomes `false`); when the pool lists `email`
  in `UserAttributeUpdateSettings.AttributesRequireVerificationBeforeUpdate`, the old address stays
  in effect instead and the new one is only pending (Cognito keeps it until the user enters the
  code sent to it; the emulator sends no code, so it stays pending)."""
from __future__ import annotations

from moto.cognitoidp.exceptions import NotAuthorizedError
from moto.cognitoidp.models import CognitoIdpBackend

_original = CognitoIdpBackend.update_user_attributes


def _update_user_attributes(self, access_token: str, attributes: list[dict[str, str]]) -> None:
    for pool in self.user_pools.values():
        if access_token not in pool.access_tokens:
            continue
        client_id, username = pool.access_tokens[access_token]
        client = pool.clients.get(client_id)
        writable = (client.extended_config.get("WriteAttributes") if client else None) or None
        names = {a["Name"] for a in attributes}
        if writable is not None and not names <= set(writable):
            raise NotAuthorizedError("A client attempted to write unauthorized attribute")
        user = self.admin_get_user(pool.id, username)
        new_email = next((a["Value"] for a in attributes if a["Name"] == "email"), None)
        if new_email is not None and new_email != user.attribute_lookup.get("email"):
            held = (pool.extended_config.get("UserAttributeUpdateSettings") or {}).get(
                "AttributesRequireVerificationBeforeUpdate", [])
            attributes = [a for a in attributes if a["Name"] not in ("email", "email_verified")]
            if "email" not in held:
                attributes += [{"Name": "email", "Value": new_email}, {"Name": "email_verified", "Value": "false"}]
        return _original(self, access_token, attributes)
    return _original(self, access_token, attributes)


def install() -> None:
    CognitoIdpBackend.update_user_attributes = _update_user_attributes
