"""`jejak serve`: the HTTP API over the application service and the read side (FastAPI, run by uvicorn).

``app.create_app(settings)`` builds the application; ``routes/`` has one router per resource; ``deps`` the
typed dependencies (the principal, the application, the read side); ``errors`` turns every refusal into
``application/problem+json``.
"""
