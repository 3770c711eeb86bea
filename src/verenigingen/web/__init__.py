"""The HTTP face: FastAPI app, dependencies, error handling and routers per domain."""
