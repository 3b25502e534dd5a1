"""Workers: processes that load one Service and run the requests they claim."""
