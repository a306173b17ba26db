"""Python client for the Quiver embeddings and semantic search server.

    from quiver_client import Client
    c = Client("http://127.0.0.1:8080")
    c.create_collection("kb")
    c.upsert("kb", [{"id": "a1", "title": "Reset your password", "text": "..."}])
    hits = c.query("kb", text="reset password", k=10)["results"]
"""

from .client import Client, QuiverError

__all__ = ["Client", "QuiverError"]
__version__ = "0.1.0"
