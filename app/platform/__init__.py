"""The platform's domain: institutions, customers, transactions and approvals."""
