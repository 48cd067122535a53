"""Access rules, sessions, passwords, throttles, secrets and security headers.

The Actor (app.security.actor) is the one subject of permission and scope: roles in
app.security.roles, permissions and the institution scope in app.security.access. No
service layer of its own: these are the building blocks the services of other packages
call (passwords, sessions, crypto, stepup, ratelimits, limiting, throttle).
"""
