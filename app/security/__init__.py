"""Access rules, sessions, passwords, throttles, secrets and security headers."""
