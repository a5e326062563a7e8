"""ragguard: enforce a RAG team's experiment protocol inside git."""

__version__ = "0.1.0"
