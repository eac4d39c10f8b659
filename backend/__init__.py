"""bordergate backend: the FastAPI service that decides clearances and keeps the records.

Entry points: :func:`backend.app.create_app` (the ASGI app) and :func:`backend.server.build_server`
(a uvicorn server to run it in-loop).
"""
