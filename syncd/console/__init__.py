"""The read-only web console: server-rendered pages of what the database says, each with a JSON twin.

`queries` reads (in read-only transactions), `pages` holds the frozen page models, `app` routes a
request to a page and renders it with Jinja2 (autoescaped) or as JSON. It knows nothing of HTTP
servers: `syncd run` serves it under /ui/ beside its endpoints, `syncd console` on its own.
"""
