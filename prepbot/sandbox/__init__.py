"""A local Salesforce-compatible org (REST API subset, SOQL engine, SMTP sink) for demos and tests."""
