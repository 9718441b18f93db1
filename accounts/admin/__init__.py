"""Support staff's admin: accounts, their audit trail and the support actions, behind a second factor.

The modules that register ModelAdmins are imported by `AccountsConfig.ready`, not here: Django
imports `accounts.admin.site` while it builds `admin.site`, and a registration made during that
import would land on a site it then throws away.
"""
