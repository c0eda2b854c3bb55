"""The config store: lines, processes, PLC connections, polling groups and tags in SQLite.

``model`` holds the plant's objects and the queries that make them; ``schema``
opens and migrates the store. The package imports neither, so a process that
only handles the objects (a poller) never loads SQLite (services/poller/plant_reader.py).
"""
