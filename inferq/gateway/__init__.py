"""The stateless HTTP gateway: validates, authenticates, enqueues, answers and waits."""
