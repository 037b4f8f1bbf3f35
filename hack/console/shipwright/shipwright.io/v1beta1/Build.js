// Types only: the console imports nothing but types from this path.
