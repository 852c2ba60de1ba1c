"""The admin console: server-rendered pages (Jinja, no script, nothing external) over the
same operations the admin API and the CLI use, with the same roles and two-person rules.

- ``signin``: single sign-on with the lab's OpenID provider, single-use links, sign-out
- ``session``: the console session, roles, form tokens (CSRF)
- one module per screen: ``dashboard``, ``organizations``, ``trust``, ``parties`` (issuers
  and identity providers), ``clients``, ``policy``, ``changes`` (approvals, break-glass),
  ``revocations``, ``keys``, ``audit``, ``reports``, ``admins``, ``jobs``
"""
