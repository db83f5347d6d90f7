"""The web console: server-rendered pages for HQ, branches and dealers, an HTTP client of the
platform's APIs (it never reads a database nor imports another service's code)."""
