"""Pure rules of inferq: statuses, request records, time. No I/O, no frameworks."""
