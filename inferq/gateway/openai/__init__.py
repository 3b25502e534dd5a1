"""OpenAI's API as another door to inferq's queue: the speech routes, the model list and
OpenAI's error shape. Same tokens, tenants, limits and retention as every other route."""
