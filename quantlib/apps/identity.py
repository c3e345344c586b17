"""Who is visiting an app: members sign in to ``quant apps`` with their own tokens.

``quant apps`` serves Voila with :class:`QuantIdentityProvider`, a jupyter_server identity
provider that accepts the single shared token (one-person use, as before) and every member's
token of ``parameters/teams.yaml`` (:mod:`quantlib.identity`: only SHA-256 hashes are stored,
compared in constant time; ``quant token NAME`` makes one). A visitor signs in once (``?token=``
in the link, an ``Authorization: token ...`` header, or Voila's login page) and is then known by
jupyter_server's signed login cookie.

How the member reaches the app's kernel: preheated kernels run the notebook before anyone asks
for it, so the member cannot be in the kernel's environment at start. The provider puts the
signed-in member in the request header :data:`MEMBER_HEADER` (after removing any such header
the visitor sent: nobody can claim to be someone else), Voila passes configured headers to the
kernel with the rest of the request (``VoilaConfiguration.http_header_envs``, delivered to a
preheated kernel when it is handed out), and the notebook's last cell reads it with
:func:`visiting_member` and calls the app's ``sign_in``. Without members (or with the shared
token) the visitor is the operator: ``$QUANT_USER``, else the server's account. With ``apps:``
in ``teams.yaml`` a member opens only the apps their teams list (403 otherwise).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path

from jupyter_server.auth.identity import IdentityProvider, User
from traitlets import Unicode

from quantlib.identity import Directory, load_directory

__all__ = ["MEMBER_ENV", "MEMBER_HEADER", "QuantIdentityProvider", "member_of", "visiting_member"]

#: The request header the provider sets to the signed-in member's name.
MEMBER_HEADER = "X-Quant-Member"
#: The same, as Voila hands it to the kernel (RFC 3875 naming).
MEMBER_ENV = "HTTP_X_QUANT_MEMBER"
#: Members' user names carry this prefix, so an anonymous (shared-token) user is never one.
_MEMBER_PREFIX = "member:"


def member_of(user: User | None) -> str | None:
    """The member ``user`` is, or None for the shared token's anonymous user (or nobody)."""
    if user is None or not user.username.startswith(_MEMBER_PREFIX):
        return None
    return user.username[len(_MEMBER_PREFIX):]


class QuantIdentityProvider(IdentityProvider):
    """jupyter_server identity provider for the shared token and members' tokens.

    Configured by ``quant apps`` (``Voila.identity_provider_class``). The directory is read from
    ``teams_file`` (default ``$QUANT_TEAMS``, else ``parameters/teams.yaml``) and re-read when the
    file changes, so a member added or removed takes effect without a restart; a removed
    member's login cookie stops working at their next request.
    """

    teams_file = Unicode("", config=True, help="Members and teams (default $QUANT_TEAMS, else parameters/teams.yaml).")

    _directory: Directory | None = None
    _directory_key: tuple | None = None

    def _teams_path(self) -> Path | None:
        if self.teams_file:
            return Path(self.teams_file)
        from quantlib.config import project_root

        return Path(os.environ.get("QUANT_TEAMS") or project_root() / "parameters" / "teams.yaml")

    @property
    def directory(self) -> Directory:
        """The members and teams, re-read when the file changes (a malformed file keeps the last good one)."""
        path = self._teams_path()
        try:
            stat = path.stat()
            key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except OSError:
            key = (str(path), None)
        if key != self._directory_key:
            try:
                self._directory = load_directory(path)
            except ValueError as problem:
                self.log.error("quant apps: %s (keeping the members read before)", problem)
                if self._directory is None:
                    self._directory = Directory()
            self._directory_key = key
        return self._directory

    @property
    def auth_enabled(self) -> bool:
        return bool(self.token) or bool(self.directory.token_hashes)

    @property
    def login_available(self) -> bool:
        return self.auth_enabled

    def _member_user(self, member: str) -> User:
        return User(username=_MEMBER_PREFIX + member, name=member, display_name=member,
                    initials=member[:2].upper())

    def _user_for(self, given: str) -> User | str | None:
        """The member's user for token ``given``, ``"shared"`` for the shared token, else None."""
        if not given:
            return None
        if self.token and hmac.compare_digest(given.encode(), self.token.encode()):
            return "shared"
        member = self.directory.member_for(given)
        return self._member_user(member) if member else None

    async def get_user_token(self, handler) -> User | None:
        found = self._user_for(self.get_token(handler))
        if found == "shared":
            # The shared token identifies nobody in particular: keep the cookie's anonymous user.
            user = self.get_user_cookie(handler)
            if hasattr(user, "__await__"):
                user = await user
            return user if user is not None and member_of(user) is None else self.generate_anonymous_user(handler)
        return found

    def user_from_cookie(self, cookie_value: str) -> User | None:
        user = super().user_from_cookie(cookie_value)
        member = member_of(user)
        if member is not None and member not in self.directory.token_hashes:
            return None  # removed from teams.yaml since signing in
        if member is None and user is not None and not self.token and self.directory.token_hashes:
            return None  # an anonymous cookie from a server that had no members: sign in as a member
        return user

    def process_login_form(self, handler) -> User | None:
        if not self.auth_enabled:
            return self.generate_anonymous_user(handler)
        found = self._user_for(handler.get_argument("password", default=""))
        return self.generate_anonymous_user(handler) if found == "shared" else found

    async def get_user(self, handler) -> User | None:
        # Whatever the visitor sent under the member header is dropped before anyone reads it.
        headers = handler.request.headers
        if MEMBER_HEADER in headers:
            del headers[MEMBER_HEADER]
        user = await self._get_user(handler)
        member = member_of(user)
        if member is not None:
            headers[MEMBER_HEADER] = member
            app = _app_of(handler.request.path)
            if app is not None and not self.directory.may_open(member, app):
                from tornado import web

                # parameters/teams.yaml's `apps:` does not give this member's teams the app.
                raise web.HTTPError(403, f"{member} may not open {app}")
        return user


def _app_of(path: str) -> str | None:
    """The app a request is for (``/voila/render/<app>.ipynb``), or None for anything else."""
    marker = "/voila/render/"
    if marker not in path:
        return None
    name = path.split(marker, 1)[1].split("/")[-1]
    return name.removesuffix(".ipynb") or None


def visiting_member(environ: Mapping[str, str] | None = None, wait: bool = True) -> str | None:
    """The member the app's page was served to, or None (no members, the shared token, not in Voila).

    In a preheated Voila kernel this waits until the kernel is handed to a visitor
    (``voila.utils.wait_for_request``): call it in the notebook's last cell, after the app is
    displayed, so the wait is not part of the page. Elsewhere (papermill, a plain kernel) it
    returns at once.
    """
    if wait and environ is None and os.environ.get("VOILA_PREHEAT", "False") != "False":
        from voila.utils import wait_for_request

        wait_for_request()
    env = os.environ if environ is None else environ
    return env.get(MEMBER_ENV) or None
