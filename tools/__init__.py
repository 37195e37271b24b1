"""Tools around the coach, outside its core: `coach bench` and `coach loadtest`."""
