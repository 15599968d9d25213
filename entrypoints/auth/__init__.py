"""Who is calling: a principal from the credential (an API token or an OIDC JWT), never from the request.

Shared by `jejak serve`, the `jejak token` commands and (next) the dashboard.
"""

from entrypoints.auth.authenticator import Authenticator
from entrypoints.auth.principal import Principal

__all__ = ["Authenticator", "Principal"]
