"""The read side: tables projected from the event log, kept current by pulling it (see `catchup`)."""
