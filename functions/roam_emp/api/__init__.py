"""API Gateway plumbing shared by every HTTP Lambda: envelope responses, OCPI errors, token auth,
request/correlation ids."""
