"""Local accounts: the stores and services behind the Client-Server account endpoints.

Each module holds one concept: :mod:`passwords` (bcrypt off the event loop),
:mod:`accounts`, :mod:`devices`, :mod:`tokens` (access/refresh/login tokens and the
in-memory token cache), :mod:`uia` (User-Interactive Authentication sessions and
stages), :mod:`registration_tokens`, :mod:`profiles`, :mod:`account_data`,
:mod:`filters`, :mod:`threepids` (email addresses validated by :mod:`mailer`'s SMTP
mail and bound to accounts), :mod:`identity_bindings` (3PIDs bound and unbound at
identity servers through :mod:`identity_client`), :mod:`cas` (single sign-on through a
CAS server), :mod:`registration` (``/register`` with its UIA flows), :mod:`directory` (the user
directory search, an index in :mod:`directory_store` kept from room events).
:mod:`service` composes them into the operations the API handlers call (register, login,
logout, change password, deactivate, delete devices).
Handlers in :mod:`ranvier.api.client` hold no SQL; stores hold no HTTP.
"""
