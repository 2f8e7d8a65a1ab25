"""The web UI: the performer's control room at http://impsypi.local:4000 (bottle).

It runs as its own process beside `impsy run` and shares only the working folder and the two
localhost [webui] ports with it. `options` is imported by every `impsy` invocation and stays
light; `server.run(args)` does the work.
"""
