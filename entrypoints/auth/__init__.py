"""Who is calling: a principal from the credential (an API token or an OIDC JWT), never from the request.

Shared by `jejak serve`, the `jejak token` commands and (next) the dashboard.
"""

from entrypoints.auth.principal import Authenticator, Principal

__all__ = ["Authenticator", "Principal"]
