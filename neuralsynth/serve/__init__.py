"""The timbre explorer: a local web app over the model (``neuralsynth serve``).

``app.create_app`` builds the FastAPI application; the page in ``static/`` uses only the
JSON API it serves (docs/serve.md), so scripts can use the same API.
"""
